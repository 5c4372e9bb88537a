"""Deliveries are at-least-once and the venue backs off, in live mode against polysim (the whole
system, RTDS and the Data API backstop both on): every RTDS frame delivered twice copies each fill
once and a transaction's two identical fills twice; fills that arrive inside 429 and 503 windows
are all copied after the windows, none twice, and no order is posted more than
`execution.max_posts_per_order` times."""
from __future__ import annotations

from collections import Counter

import pytest
import requests

from polycopy.sim.scenario import parse
from polycopy.store import journal
from polycopy.store.db import open_db
from tests.integration.livesim import OURS, live_system
from tests.integration.test_supervision import wait_for

pytestmark = pytest.mark.integration


def scenario():
    return parse({
        "name": "at-least-once", "seed": 11,
        "markets": [{"slug": m, "outcomes": ["Yes", "No"]} for m in ("dup-a", "dup-b", "busy-a", "busy-b")],
        "accounts": [{"address": OURS, "pusd": "5000"}],
        "feeds": {"rtds_lag_ms": {"orders_matched": 0, "trades": 0}, "data_api_lag_ms": 500, "noise_per_s": 0},
    })


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_system(tmp_path_factory.mktemp("alo"), scenario(), feeds=("rtds", "backstop"),
                     copy={"copy_mode": "fill_by_fill"}, execution={"max_slippage_bps": 500},
                     detection={"http_poll_interval_ms": 300}, reconcile={"enabled": False}) as lv:
        yield lv


def control(lv, path: str, body: dict):
    r = requests.post(lv.sim.endpoints["control"] + path, json=body, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def copies(lv) -> Counter:
    """Shares copied per token: the intents the executor filled."""
    db = open_db(lv.config.store.path)
    journal.ensure(db)
    out = Counter()
    for r in db.query(f"SELECT o.token_id, o.filled_size FROM {journal.ORDERS} o WHERE o.state = 'accepted'"):
        out[r["token_id"]] += float(r["filled_size"])
    return out


def intents(lv) -> list[dict]:
    db = open_db(lv.config.store.path)
    journal.ensure(db)
    return list(db.query(f"SELECT * FROM {journal.INTENTS}"))


def test_every_frame_twice_copies_each_fill_once_and_an_identical_pair_twice(live):
    control(live, "/faults", {"kind": "rtds_duplicate", "value": 1, "for_s": 60})  # every RTDS frame twice
    single = control(live, "/fills", {"market": "dup-a", "outcome": "Yes", "side": "BUY", "price": "0.5",
                                       "size": "10"})["records"]
    pair = control(live, "/fills", {"market": "dup-b", "outcome": "Yes", "side": "BUY", "price": "0.5",
                                     "size": "10", "repeat": 2})["records"]  # two identical fills in one transaction
    assert len(pair) == 2 and pair[0]["tx_hash"] == pair[1]["tx_hash"]
    a, b = single[0]["token_id"], pair[0]["token_id"]
    # the pair's second fill is copied once the backstop lists it too (policy/dedupe.py)
    wait_for(lambda: copies(live)[a] >= 10 and copies(live)[b] >= 20, timeout_s=30, what="the copies")
    wait_for(lambda: live.status()["telemetry"]["feeds"]["rtds"].get("unconfirmed", 0) >= 2, timeout_s=20,
             what="intake's count of RTDS's own repeats")
    assert (copies(live)[a], copies(live)[b]) == (10, 20)  # never 20 and 40
    assert len(live.orders_for(a)) == 1 and len(live.orders_for(b)) == 2


def test_fills_inside_429_and_503_windows_are_all_copied_after_them_once(live):
    n = len(intents(live))
    control(live, "/faults", {"kind": "venue_429", "for_s": 3})
    tokens = []
    for i in range(3):
        tokens.append(control(live, "/fills", {"market": "busy-a", "outcome": "Yes" if i % 2 else "No", "side": "BUY",
                                                "price": "0.5", "size": str(10 + i)})["records"][0]["token_id"])
    wait_for(lambda: len(intents(live)) >= n + 3, timeout_s=20, what="the intents inside the 429 window")
    control(live, "/faults", {"kind": "venue_503", "for_s": 3})
    for i in range(2):
        tokens.append(control(live, "/fills", {"market": "busy-b", "outcome": "Yes" if i else "No", "side": "BUY",
                                                "price": "0.5", "size": str(20 + i)})["records"][0]["token_id"])
    new = lambda: [r for r in intents(live)][n:]  # noqa: E731
    wait_for(lambda: len(new()) == 5 and all(r["state"] in ("filled", "partial") for r in new()), timeout_s=60,
             what="every fill copied after the windows")
    assert {r["state"] for r in new()} == {"filled"}
    assert sum(len(live.orders_for(t)) for t in set(tokens)) == 5  # one order at the venue per fill, none twice
    db = open_db(live.config.store.path)
    posts = [r["posts"] for r in db.query(f"SELECT posts FROM {journal.ORDERS} WHERE token_id IN "
                                          f"({','.join('?' * len(set(tokens)))})", sorted(set(tokens)))]
    assert len(posts) == 5 and max(posts) <= live.config.execution.max_posts_per_order
