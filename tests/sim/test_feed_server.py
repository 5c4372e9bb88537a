"""Polysim lifecycle, the CLI, the control API, scheduled fills, fault timeline, replay."""
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import psutil
import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from polycopy.sim.server import Polysim
from tests.sim.simkit import SOURCE, frames, fresh, inject, rtds, sim, small_scenario, wait_for
from tests.conftest import POLYMARKET

__all__ = ["sim", "fresh"]
ROOT = Path(__file__).resolve().parents[2]


def ports(endpoints: dict) -> set[int]:
    return {urlparse(url).port for url in endpoints.values()}


def test_stop_leaves_no_thread_socket_or_task():
    before = {t.ident for t in threading.enumerate()}
    sim = Polysim(small_scenario())
    endpoints = sim.start()
    assert len(ports(endpoints)) == 8  # six services, the Polygon node and the relayer
    ws = rtds(sim, "trades")
    clob_ws = connect(endpoints["clob_ws_market"], open_timeout=5)
    sim.stop()
    with pytest.raises(ConnectionClosed):
        while True:
            ws.recv(timeout=5)
    ws.close()
    clob_ws.close()
    left = lambda: [t.name for t in threading.enumerate() if t.ident not in before]  # noqa
    try:  # the websocket clients' own threads take a moment to end
        wait_for(lambda: not left(), 5)
    except AssertionError:
        pytest.fail(f"threads left: {left()}")
    assert sim.loop.is_closed()
    for port in ports(endpoints):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1)
    mine = [c for c in psutil.Process().net_connections("tcp")
            if c.laddr and c.laddr.port in ports(endpoints)]
    assert [c for c in mine if c.status == psutil.CONN_LISTEN] == []


@pytest.mark.parametrize("retired", [False, True])
def test_cli_writes_endpoints_and_exits_0_on_sigterm(tmp_path, retired):
    out = tmp_path / "e.json"
    proc = subprocess.Popen([sys.executable, "-m", "polycopy.sim", "--endpoints-out", str(out)]
                            + (["--serve-retired"] if retired else []),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(out.exists, 15, 0.05)
        endpoints = json.loads(out.read_text())
        assert set(endpoints) == {"clob", "rtds", "data_api", "gamma", "clob_ws_market",
                                  "clob_ws_user", "control", "polygon", "geoblock",
                                  "polygon_rpc", "relayer"}
        assert requests.get(endpoints["control"] + "/health", timeout=5).json()["ok"] is True
        assert requests.get(endpoints["geoblock"], timeout=5).json()["blocked"] is False
        assert requests.get(endpoints["gamma"] + "/markets/keyset", timeout=5).json()["markets"]
        v1 = requests.get(endpoints["data_api"] + "/trades", timeout=5).status_code
        lists = requests.get(endpoints["gamma"] + "/markets", timeout=5).status_code
        assert (v1, lists) == ((200, 200) if retired else (410, 410))
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert [p for p in tmp_path.iterdir() if p.name != "e.json"] == []  # no temp file left


def test_cli_rejects_a_bad_scenario(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("feeds: {noise: 3}\n")
    r = subprocess.run([sys.executable, "-m", "polycopy.sim", "--scenario", str(bad)],
                       cwd=ROOT, capture_output=True, timeout=30)
    assert r.returncode == 2 and b"feeds.noise" in r.stderr and b"Traceback" not in r.stderr


def test_control_records_faults_and_reset(fresh):
    control = fresh.endpoints["control"]
    records = inject(fresh, token=next(iter(fresh.catalog.by_slug["will-it-rain"].market.tokens)),
                     side="SELL", price="0.4", size="3")
    rec = records[0]
    assert set(rec) >= {"fill_key", "token_id", "sched_mono_ns", "tx_hash"}
    assert 0 < time.monotonic_ns() - rec["sched_mono_ns"] < 10**10
    got = requests.get(control + "/records", timeout=5).json()
    assert got["source_fills"] == records and isinstance(got["clob"], list)
    requests.get(fresh.endpoints["clob"] + "/book", params={"token_id": rec["token_id"]},
                 timeout=5)
    clob = requests.get(control + "/records", timeout=5).json()["clob"]
    assert clob and "recv_mono_ns" in clob[-1]
    shown = requests.post(control + "/faults", json={"kind": "venue_429", "for_s": 5},
                          timeout=5).json()
    assert 0 < shown["venue"]["rate_limit_until"] <= 5
    assert requests.get(fresh.endpoints["clob"] + "/book", params={
        "token_id": rec["token_id"]}, timeout=5).status_code == 429
    requests.post(control + "/reset", timeout=5)
    after = requests.get(control + "/records", timeout=5).json()
    assert after["source_fills"] == [] and requests.get(control + "/faults", timeout=5).json()[
        "venue"]["rate_limit_until"] == 0


@pytest.mark.parametrize("body", [
    "not json", {"price": "0.5"}, {"token": "123", "price": "0.5", "size": "1"},
    {"market": "btc", "outcome": "Sideways", "price": "0.5", "size": "1"},
    {"market": "btc", "outcome": "Up", "price": "2", "size": "1"},
    {"market": "btc", "outcome": "Up", "price": "0.5", "size": "1", "color": "red"}])
def test_control_rejects_bad_fills(fresh, body):
    data = body if isinstance(body, str) else json.dumps(body)
    r = requests.post(fresh.endpoints["control"] + "/fills", data=data, timeout=5)
    assert r.status_code == 400 and set(r.json()) == {"error"}
    assert requests.post(fresh.endpoints["control"] + "/faults", data='{"kind": "x"}',
                         timeout=5).status_code == 400


def test_scenario_schedule_and_fault_timeline():
    scenario = small_scenario(
        fills=[{"at_s": 0.2, "market": "btc", "outcome": "Down", "price": "0.45", "size": "4",
                "tx": "a", "repeat": 2},
               {"at_s": 0.2, "market": "btc", "outcome": "Down", "price": "0.45", "size": "6",
                "tx": "a", "role": "maker"}],
        faults=[{"at_s": 0, "kind": "data_api_429", "for_s": 30}])
    with Polysim(scenario) as sim:
        ws = rtds(sim, "trades")
        got = frames(ws, 6)
        mine = [f["payload"] for f in got if f["payload"]["proxyWallet"].lower() == SOURCE]
        assert sorted(p["size"] for p in mine) == [4, 4, 6]
        assert len({f["payload"]["transactionHash"] for f in got}) == 1
        records = sim.feed.records
        assert len({r["fill_key"] for r in records}) == 3
        assert records[0]["sched_mono_ns"] == sim.clock.mono_ns(0.2)
        r = requests.get(sim.endpoints["data_api"] + "/trades", params={"user": SOURCE},
                         timeout=5)
        assert r.status_code == 429
        ws.close()


def test_replay_plays_recorded_frames_in_order(tmp_path):
    frame = json.loads((POLYMARKET / "rtds_trade.json").read_text())
    source = dict(frame, payload={**frame["payload"], "proxyWallet": SOURCE.upper()[2:]})
    source["payload"]["proxyWallet"] = "0x" + SOURCE[2:].upper()
    lines = [{"recv_ms": 1000, "text": ""}, {"recv_ms": 1000, "frame": frame},
             {"recv_ms": 1300, "frame": source},
             {"recv_ms": 1301, "frame": dict(source, type="orders_matched")}]
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    scenario = small_scenario(replay=str(path), replay_delay_s=0.5)
    with Polysim(scenario) as sim:
        ws = rtds(sim, "*")
        got = frames(ws, 3)
        assert [f["payload"]["proxyWallet"] for f in got][0] == frame["payload"]["proxyWallet"]
        assert [f["type"] for f in got] == ["trades", "trades", "orders_matched"]
        assert got[0]["payload"] == frame["payload"]
        assert len(sim.feed.records) == 1  # one source fill, seen under both types
        ws.close()


def test_replay_rejects_a_broken_file(tmp_path):
    path = tmp_path / "feed.jsonl"
    path.write_text('{"recv_ms": 1}\n')
    with pytest.raises(RuntimeError, match="feed.jsonl:1"):
        Polysim(small_scenario(replay=str(path))).start()


def test_listeners_see_each_published_transaction(fresh):
    seen = []
    fresh.call(fresh.feed.listeners.append, seen.append)
    try:
        inject(fresh, repeat=2, role="maker")
        txs = wait_for(lambda: seen)
        assert len(txs) == 1 and [f.role for f in txs[0]] == ["taker", "taker", "maker", "maker"]
        assert [f.is_source for f in txs[0]] == [False, False, True, True]
    finally:
        fresh.call(fresh.feed.listeners.remove, seen.append)
