"""Hostile feeds: every RTDS frame twice (per type), malformed frames between good ones, bad
Data API rows among the source's good ones; driven by the scenario and the control API."""
import json
import time

import pytest
import requests
from websockets.sync.client import connect

from polycopy.sim.hostile import FRAME_KINDS, ROW_KINDS
from polycopy.sim.server import Polysim
from tests.sim.simkit import SOURCE, control, fault, inject, small_scenario


def subscribe(sim, *types):
    ws = connect(sim.endpoints["rtds"], open_timeout=5, max_size=None)  # oversize frames too
    ws.send(json.dumps({"action": "subscribe", "subscriptions": [
        {"topic": "activity", "type": t} for t in types]}))
    return ws


def texts(ws, n: int, timeout_s: float = 5.0) -> list[str]:
    out, deadline = [], time.monotonic() + timeout_s
    while len(out) < n:
        text = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if text and text != "PONG":
            out.append(text)
    return out


def parse(text: str):
    try:
        return json.loads(text)
    except RecursionError:
        return "too deep"
    except ValueError:
        return "not json"


def test_every_frame_twice_on_one_type_only():
    feeds = {"rtds_duplicate_share": {"trades": 1}}
    with Polysim(small_scenario(feeds=feeds)) as sim:
        ws = subscribe(sim, "trades", "orders_matched")
        inject(sim)  # a taker fill: trades carries taker + maker rows, orders_matched the taker
        got = [json.loads(t) for t in texts(ws, 5)]
        kinds = sorted(f["type"] for f in got)
        assert kinds == ["orders_matched", "trades", "trades", "trades", "trades"]
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
        fault(sim, kind="rtds_duplicate", value=1, type="orders_matched")
        inject(sim)
        again = [json.loads(t)["type"] for t in texts(ws, 6)]
        assert sorted(again) == ["orders_matched"] * 2 + ["trades"] * 4
        ws.close()


@pytest.mark.parametrize("kind", FRAME_KINDS)
def test_each_malformed_frame_follows_a_good_one(kind):
    feeds = {"rtds_malformed_share": 1, "rtds_malformed_kinds": [kind]}
    with Polysim(small_scenario(feeds=feeds)) as sim:
        ws = subscribe(sim, "orders_matched")
        records = inject(sim)
        good, bad = texts(ws, 2)
        assert json.loads(good)["payload"]["transactionHash"] == records[0]["tx_hash"]
        parsed = parse(bad)
        if kind == "not_json":
            assert parsed == "not json"
        elif kind == "deep_nesting":
            assert parsed == "too deep" and len(bad) > 200_000
        else:
            payload = parsed["payload"]
            if kind == "null_payload":
                assert payload is None
                return
            assert payload["proxyWallet"].lower() == SOURCE  # passes a wallet filter
            assert payload["transactionHash"] != records[0]["tx_hash"]  # never a real fill's
            expect = {"huge_exponent": lambda p: p["size"] == "1e999999999",
                      "huge_number": lambda p: p["size"] == float("inf"),
                      "huge_timestamp": lambda p: p["timestamp"] == 10**20,
                      "wrong_types": lambda p: isinstance(p["size"], dict) and p["side"] == 7,
                      "oversize": lambda p: len(bad) > 2 * 1024 * 1024}[kind]
            assert expect(payload), bad[:300]
        stats = requests.get(sim.endpoints["control"] + "/stats", timeout=5).json()
        assert stats["hostile_frames_sent"] == {kind: 3}  # after each of 3 good frames (2 types)
        ws.close()


def test_control_api_sends_hostile_frames_and_turns_the_knob():
    with Polysim(small_scenario()) as sim:
        ws = subscribe(sim, "orders_matched")
        assert requests.post(sim.endpoints["control"] + "/hostile", json={"kind": "not_json"},
                             timeout=5).status_code == 409  # no good frame to model one on yet
        inject(sim)
        texts(ws, 1)
        assert control(sim, "/hostile", {"kind": "huge_timestamp", "count": 3}) == {"sent": 3}
        assert all(json.loads(t)["payload"]["timestamp"] == 10**20 for t in texts(ws, 3))
        fault(sim, kind="rtds_malformed", value=1, variants=["not_json", "null_payload"])
        inject(sim)
        good, bad = (parse(t) for t in texts(ws, 2))
        assert good["payload"]["proxyWallet"].lower() == SOURCE
        assert bad == "not json" or bad["payload"] is None  # the kinds are cycled
        bad = requests.post(sim.endpoints["control"] + "/faults", timeout=5,
                            json={"kind": "rtds_malformed", "value": 1, "variants": ["nope"]})
        assert bad.status_code == 400
        ws.close()


def get(sim, path, **params):
    return requests.get(sim.endpoints["data_api"] + path, params=params, timeout=5)


def test_hostile_data_api_rows_among_good_ones():
    with Polysim(small_scenario(feeds={"data_api_hostile": ["future", "huge_size"]},
                                legacy={"data_api_v1": True})) as sim:
        for size in ("1", "2"):
            inject(sim, size=size)
        rows = get(sim, "/v2/trades", user=SOURCE).json()["data"]
        assert len(rows) == 4
        now = time.time()
        assert rows[0]["timestamp"] > now + 3600  # dated in the future, listed first
        assert rows[2]["size"] == "1e999999999"  # between the two good rows
        assert [r["size"] for r in (rows[1], rows[3])] == ["2", "1"]
        again = get(sim, "/v2/trades", user=SOURCE).json()["data"]
        assert again == rows  # the same bad rows on every poll
        v1 = get(sim, "/trades", user=SOURCE).json()
        assert len(v1) == 4 and v1[0]["timestamp"] > now + 3600 and "transactionHash" in v1[2]
        assert len(get(sim, "/v2/trades", user="0x" + "ab" * 20).json()["data"]) == 0
        fault(sim, kind="data_api_hostile", variants=list(ROW_KINDS))
        rows = get(sim, "/v2/trades", user=SOURCE).json()["data"]
        assert len(rows) == 2 + len(ROW_KINDS)
        assert any(isinstance(r, str) for r in rows)  # not_object
        assert any(isinstance(r, dict) and set(r) == {"proxy_wallet", "transaction_hash"}
                   for r in rows)  # missing_fields
