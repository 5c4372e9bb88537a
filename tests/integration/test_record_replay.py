"""Issue #8, done-when: a run recorded with `run.py --sim --record F` and replayed with
`run.py --replay F` in paper mode makes the same decisions.

Both runs are the real system (run.py as a subprocess, polysim as its child). The scenario
(scenarios/record_replay.yaml) trades one 15-minute BTC window: a warm-up fill per token, then
three bursts of fills 400-500 ms apart; the caps are tight so that approvals and rejections
both happen, and each decision depends on what the earlier ones reserved and filled.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from polycopy.ops import report
from tests.conftest import ROOT
from tests.integration.test_supervision import free_port, wait_for

pytestmark = pytest.mark.integration
SCENARIO = Path(__file__).parent / "scenarios" / "record_replay.yaml"
LAST_FILL_S = 19  # the scenario's last burst ends by then (scenario time)
WINDOW_S = 900


def write_config(tmp_path: Path) -> Path:
    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    raw["store"]["path"] = str(tmp_path / "state" / "polycopy.sqlite")
    raw["telemetry"].update(log_path=str(tmp_path / "state" / "polycopy.log"), metrics_port=0, write_csv=False)
    raw["actors"]["admin_port"] = free_port()
    raw["reconcile"]["enabled"] = False  # its corrections depend on when it polls, not on the feed
    # Reservation = fill when the book offers the source's price: no decision depends on whether
    # an OrderOutcome arrived before the next intent.
    raw["execution"].update(max_slippage_bps=0, max_slippage_ticks=0)
    raw["sizing"]["max_notional_per_market_usd"] = 50
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def start(config: Path, *args: str) -> tuple[subprocess.Popen, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYCOPY_")}
    out = open(config.parent / f"run-{args[0].strip('-')}.out", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(config), *args],
                            stdout=out, stderr=subprocess.STDOUT, cwd=config.parent, env=env)
    return proc, out


def stop(proc: subprocess.Popen, out) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    out.close()


def decisions(db: Path) -> list[dict]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT intent_id, decision, reason, side, intent_size, size, notional_usd, fill_keys "
                            "FROM decisions ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    return [dict(zip(("intent_id", "decision", "reason", "side", "intent_size", "size", "notional", "fill_keys"),
                     (*r[:7], tuple(sorted(json.loads(r[7])))))) for r in rows]


def settled(db: Path, at_least: int = 1, quiet_s: float = 4.0):
    """The decisions once at least `at_least` exist and none came for `quiet_s`."""
    state = {"n": -1, "since": time.monotonic()}

    def check():
        rows = decisions(db)
        if len(rows) != state["n"]:
            state.update(n=len(rows), since=time.monotonic())
            return None
        return rows if len(rows) >= at_least and time.monotonic() - state["since"] >= quiet_s else None

    return check


def away_from_window_end(margin_s: int = 70) -> None:
    """The scenario trades the current 15-minute window; do not start right before it ends."""
    left = WINDOW_S - time.time() % WINDOW_S
    if left < margin_s:
        time.sleep(left + 1)


def test_replayed_recording_makes_the_same_decisions(tmp_path):
    config = write_config(tmp_path)
    record = tmp_path / "feed.jsonl"
    away_from_window_end()

    proc, out = start(config, "--sim", "--scenario", str(SCENARIO), "--record", str(record))
    started = time.monotonic()
    try:
        live_db = tmp_path / "state" / "sim" / "polycopy.sqlite"
        wait_for(lambda: time.monotonic() - started > LAST_FILL_S and decisions(live_db), timeout_s=60,
                 what="the recorded run's decisions")
        live = wait_for(settled(live_db), timeout_s=30, what="the recorded run to settle")
    finally:
        stop(proc, out)
    lines = [json.loads(x) for x in record.read_text().splitlines()]
    assert all("recv_ms" in x for x in lines)
    assert any("text" in x for x in lines) and any("backstop_row" in x for x in lines)  # both watchers wrote
    assert {d["decision"] for d in live} >= {"approved", "rejected"}, live

    proc, out = start(config, "--replay", str(record))
    try:
        replay_db = wait_for(lambda: next((tmp_path / "state" / "replay").glob("feed-*/polycopy.sqlite"), None),
                             timeout_s=30, what="the replay's database")
        replayed = wait_for(settled(replay_db, at_least=len(live)), timeout_s=60, what="the replay's decisions")
    finally:
        stop(proc, out)

    # Same intents (ids hash the covered fill keys), same verdicts, reasons and sizes, same order.
    assert replayed == live

    # And the same report of what was copied and skipped.
    def summary(db):
        r = report.build(sqlite3.connect(f"file:{db}?mode=ro", uri=True))
        return r["decisions"], r["copied"], r["skipped_by_reason"], r["notional_usd"]

    assert summary(replay_db) == summary(live_db)


def test_polysim_replay_moves_the_recording_to_now_and_serves_its_markets(tmp_path):
    """In-process polysim: a recorded source frame and backstop row, replayed with `replay_shift`."""
    import requests

    from polycopy.ops.recording import Recorder
    from polycopy.sim.scenario import parse
    from polycopy.sim.server import Polysim
    from tests.sim.simkit import SOURCE, frames, rtds

    start = 1_700_000_100  # inside the window 1699999200 .. +900
    cid = "0x" + "c" * 64
    payload = {"asset": "111", "conditionId": cid, "proxyWallet": SOURCE, "side": "BUY", "price": 0.37,
               "size": 12, "timestamp": start, "slug": "btc-updown-15m-1699999200", "outcome": "Up",
               "transactionHash": "0x" + "1" * 64}
    path = tmp_path / "feed.jsonl"
    rec = Recorder(path)
    rec.frame(json.dumps({"topic": "activity", "type": "trades", "timestamp": 1, "payload": payload}),
              recv_ms=start * 1000 + 2000)
    rec.backstop_row({**payload, "timestamp": start}, recv_ms=start * 1000 + 2500)
    scenario = parse({"feeds": {"noise_per_s": 0}, "replay": str(path), "replay_shift": True, "replay_delay_s": 0.3})
    with Polysim(scenario) as sim:
        time.sleep(0.5)  # nothing goes out before a client connects
        ws = rtds(sim, "*")
        t_connect = time.time()
        got = frames(ws, 1)[0]["payload"]
        shift = got["timestamp"] - start
        assert abs((t_connect + 0.3) - (start + 2 + shift)) < 1.5  # the recording moved to the replay start
        assert got["slug"] == f"btc-updown-15m-{1699999200 + shift}" and got["asset"] == "111"
        # Gamma knows the market by its moved slug, with the 15-minute rule's end.
        m = requests.get(sim.endpoints["gamma"] + f"/markets/slug/{got['slug']}", timeout=5).json()
        assert m["conditionId"] == cid
        # The synthetic book: asks from the source's price up, bids from one tick below.
        book = requests.get(sim.endpoints["clob"] + "/book", params={"token_id": "111"}, timeout=5).json()
        assert min(D(a["price"]) for a in book["asks"]) == D("0.37")
        assert max(D(b["price"]) for b in book["bids"]) == D("0.36")
        # The backstop row shows on the Data API half a second later, moved as well.
        rows = wait_for(lambda: requests.get(sim.endpoints["data_api"] + "/v2/trades", timeout=5,
                                             params={"user": SOURCE, "taker_only": "false"}).json()["data"],
                        timeout_s=5, what="the replayed backstop row")
        assert [(r["token_id"], r["timestamp"], D(str(r["price"]))) for r in rows] == [("111", start + shift, D("0.37"))]
        ws.close()
