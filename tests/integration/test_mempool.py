"""The mempool path against a running Polysim: its Polygon node (served at endpoints["polygon"],
fed every source transaction by the driver), a MempoolWatcher with its real I/O thread, and the
provisional fills compared with polysim's own source-fill records."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

import pytest

from polycopy.actors.mempool_watcher import MempoolWatcher
from polycopy.config.loader import parse_config
from polycopy.sim.server import Polysim
from polycopy.venue.mempool import V2_EXCHANGE, V3_EXCHANGE, confirms
from tests.actors.harness import Harness
from tests.actors.test_mempool_watcher import fills, pump
from tests.sim.simkit import SOURCE, inject, small_scenario

pytestmark = pytest.mark.integration


@pytest.fixture
def sim_with_node():
    scenario = small_scenario(polygon={"pending_delay_ms": 20, "block_delay_ms": 100, "unseen_share": 0})
    with Polysim(scenario) as sim:
        yield sim, sim.polygon, sim.endpoints["polygon"]


def test_provisional_fills_match_what_the_other_feeds_will_report(sim_with_node):
    sim, polygon, url = sim_with_node
    cfg = parse_config({"venue": {"polygon_ws_url": url}, "copy": {"source_wallet": SOURCE},
                        "detection": {"reconnect_min_ms": 20, "reconnect_max_ms": 100}})
    h = Harness(MempoolWatcher, config=cfg, peers={"intake": "intake"})
    try:
        assert pump(h, lambda: any(c.subs for c in list(polygon.conns)))
        records = inject(sim, side="BUY", price="0.53", size="2.7027")  # the source as taker
        records += inject(sim, side="BUY", price="0.47", size="5", role="maker", repeat=2)
        records += inject(sim, market="will-it-rain", outcome="Yes", side="SELL", price="0.4", size="3")
        assert pump(h, lambda: len(fills(h)) == 4)
    finally:
        h.actor.on_exit()
    got = fills(h)
    assert all(f.provisional and f.feed == "mempool" and f.source_wallet == SOURCE for f in got)
    assert len({f.key for f in got}) == 4  # the two identical maker fills are two orders
    # every record (what RTDS/backstop will list) confirms a provisional fill of the same transaction,
    # and the records of one provisional fill add up to its size
    claimed = defaultdict(Decimal)
    for r in records:
        row = [f for f in got if confirms(f, _settled(f, r)) and claimed[f.key] + Decimal(r["size"]) <= f.size]
        assert row, r
        claimed[row[0].key] += Decimal(r["size"])
    assert all(claimed[f.key] == f.size for f in got)
    assert {f.price for f in got} == {Decimal("0.53"), Decimal("0.47"), Decimal("0.4")}
    to = {a.hash: a for a in polygon.attempts}
    assert set(to) == {r["tx_hash"] for r in records}
    assert {polygon.txs[h]["to"] for h in to} == {V2_EXCHANGE, V3_EXCHANGE}  # will-it-rain is a "v2" market


def _settled(pending, record):
    return replace(pending, key=record["fill_key"], token_id=record["token_id"], side=record["side"],
                   price=Decimal(record["price"]), size=Decimal(record["size"]), tx_hash=record["tx_hash"],
                   feed="rtds", provisional=False, order_hash="")
