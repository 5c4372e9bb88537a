"""Decision through the real multiprocess system against polysim, live mode: a burst becomes at
most two orders whose total matches the sized net; the first goes before the burst ends;
opposite fills net out; a fill near the market's end opens nothing."""
from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
import requests

from polycopy.sim.scenario import parse
from polycopy.store import exposure
from polycopy.store.db import open_db
from tests.integration.livesim import OURS, live_system
from tests.integration.test_supervision import wait_for

pytestmark = pytest.mark.integration


def scenario():
    return parse({
        "name": "decision", "seed": 5,
        # Fixed markets: a 15-minute series' current window may be about to end when a test runs.
        "markets": [{"slug": "burst-market", "outcomes": ["Up", "Down"]},
                    {"slug": "net-market", "outcomes": ["Up", "Down"]},
                    {"slug": "ends-soon", "question": "Ends soon?", "outcomes": ["Yes", "No"], "end_in_s": 75}],
        "accounts": [{"address": OURS, "pusd": "1000"}],
        "feeds": {"rtds_lag_ms": {"orders_matched": 0, "trades": 0}, "data_api_lag_ms": 0, "noise_per_s": 0},
    })


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_system(tmp_path_factory.mktemp("decision"), scenario()) as lv:
        yield lv.sim, lv.status, lv.config


def verdicts(cfg, token: str) -> list[dict]:
    """Risk's verdicts on the token's intents, and the coalescer's drops (they name no token)."""
    db = open_db(cfg.store.path)
    exposure.ensure(db)
    return [r for r in exposure.load_decisions(db) if r["token_id"] in (token, None, "")]


def covered(cfg, token: str) -> set:
    """The source fills the token's intents have covered so far."""
    return {k for r in verdicts(cfg, token) if r["token_id"] == token for k in json.loads(r["fill_keys"])}


def inject(sim, **fill):
    r = requests.post(sim.endpoints["control"] + "/fills", json=fill, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["records"]


def orders_for(sim, token: str) -> list:
    return sorted((o for o in list(sim.venue.orders.values()) if o.asset_id == token), key=lambda o: o.created_at)


def posts_for(sim, token: str) -> list[dict]:
    return [r for r in list(sim.venue.records) if r.get("path") == "/order" and r.get("token_id") == token]


def test_a_burst_becomes_at_most_two_orders_and_the_first_does_not_wait(live):
    sim, _, cfg = live
    gaps = [0, 0.45, 0.38, 0.5, 0.42, 0.2]  # irregular, like real clusters: 6 fills in about 2 s
    sizes = ["6", "7.5", "5.25", "8", "6.5", "9"]
    token = None
    first_post_seen_before_last_fill = False
    for gap, size in zip(gaps, sizes):
        time.sleep(gap)
        if token is not None and posts_for(sim, token):
            first_post_seen_before_last_fill = True
        rec = inject(sim, market="burst-market", outcome="Up", side="BUY", price="0.51", size=size)
        token = rec[0]["token_id"]
    wait_for(lambda: len(orders_for(sim, token)) >= 2, timeout_s=15, what="the trailing order")
    # every fill of the burst covered by an intent: a third order could only come from a fill left over
    wait_for(lambda: len(covered(cfg, token)) == len(sizes), timeout_s=15, what="the burst's fills all covered")
    orders = orders_for(sim, token)
    assert first_post_seen_before_last_fill, "the leading order must not wait for the burst to end"
    assert len(orders) <= 2
    total = sum(o.original_size for o in orders)
    net = sum(Decimal(s) for s in sizes)  # capped_proportional, multiplier 1, caps not reached
    assert abs(total - net) <= Decimal("1"), (total, net)
    assert all(o.side == "BUY" for o in orders)


def test_opposite_fills_net_out(live):
    sim, _, cfg = live
    rec = inject(sim, market="net-market", outcome="Down", side="BUY", price="0.51", size="0.5")  # too small alone: rides along
    token = rec[0]["token_id"]
    time.sleep(0.2)
    inject(sim, market="net-market", outcome="Down", side="SELL", price="0.50", size="0.5")
    time.sleep(0.3)
    inject(sim, market="net-market", outcome="Down", side="BUY", price="0.51", size="3")
    inject(sim, market="net-market", outcome="Down", side="SELL", price="0.50", size="3")
    wait_for(lambda: any(r["reason"] == "netted_out" for r in verdicts(cfg, token)), timeout_s=15,
             what="the burst dropped as netted out")
    assert posts_for(sim, token) == []


def test_a_fill_near_the_end_of_a_market_opens_nothing(live):
    sim, status, _ = live
    market = next(m for m in sim.venue.markets.values() if m.slug == "ends-soon")
    token = market.tokens[0]
    # Far from the end the same trade is copied: the market's end is known, not guessed.
    assert market.end_ts - time.time() > 30, "the test started too late for its market"
    inject(sim, market="ends-soon", outcome="Yes", side="BUY", price="0.51", size="20")
    wait_for(lambda: len(posts_for(sim, token)) == 1, timeout_s=10, what="the order far from the end")
    wait_for(lambda: market.end_ts - time.time() < 15, timeout_s=60, what="the market to be near its end")
    assert market.end_ts - time.time() > 5
    rejected_before = status()["telemetry"]["counters"].get("risk_rejected", 0)
    inject(sim, market="ends-soon", outcome="Yes", side="BUY", price="0.51", size="20")
    wait_for(lambda: status()["telemetry"]["counters"].get("risk_rejected", 0) > rejected_before,
             timeout_s=10, what="a rejection near the end")
    assert len(posts_for(sim, token)) == 1  # rejected by risk: no order was ever made
