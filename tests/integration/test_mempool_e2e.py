"""The mempool fast path through the real multiprocess system against polysim, live mode, with
`copy.copy_pending_fills` on: a trade seen pending, by RTDS and by the Data API is copied once;
a settlement seen pending twice (a reverted attempt, then its retry) is copied once; a fill the
node never shows is copied from RTDS; a reverted settlement raises the alert; the node's
foreign and malformed calls are counted and ignored."""
from __future__ import annotations

import time

import pytest
import requests

from polycopy.sim.scenario import parse
from polycopy.store.db import open_db
from polycopy.wire.settlement import SELECTORS, V2_EXCHANGE
from tests.integration.livesim import OURS, live_system
from tests.integration.test_supervision import wait_for

pytestmark = pytest.mark.integration
CONFIRM_S = 4


def scenario():
    return parse({
        "name": "mempool-e2e", "seed": 11,
        # Fixed markets: a 15-minute series' current window may be about to end when a test runs.
        "markets": [{"slug": "mp-a", "outcomes": ["Up", "Down"]}, {"slug": "mp-b", "outcomes": ["Up", "Down"]},
                    {"slug": "will-it-rain", "question": "Will it rain?", "outcomes": ["Yes", "No"], "version": "v2"}],
        "accounts": [{"address": OURS, "pusd": "1000"}],
        "feeds": {"rtds_lag_ms": {"orders_matched": 1200, "trades": 1400}, "data_api_lag_ms": 2000, "noise_per_s": 0},
        "polygon": {"pending_delay_ms": 100, "block_delay_ms": 1000, "unseen_share": 0, "noise_per_s": 5,
                    "retry_delay_ms": 300},
    })


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mempool")
    with live_system(tmp, scenario(), feeds=("rtds", "mempool"), polygon=True,
                     copy={"copy_pending_fills": True, "mempool_confirm_timeout_s": CONFIRM_S,
                           "pending_revert_policy": "hold"}) as lv:
        yield lv.sim, lv.status, lv.config.store.path


def fault(sim, kind, value):
    r = requests.post(sim.endpoints["control"] + "/faults", json={"kind": kind, "value": value}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def inject_while(sim, kind, **fill):
    """Inject a fill with the Polygon knob `kind` at 1.0, then set it back to 0."""
    fault(sim, kind, 1.0)
    try:
        return inject(sim, **fill)
    finally:
        fault(sim, kind, 0)


def inject(sim, **fill):
    r = requests.post(sim.endpoints["control"] + "/fills", json=fill, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["records"]


def orders_for(sim, token: str) -> list:
    return [o for o in list(sim.venue.orders.values()) if o.asset_id == token]


def rows(db_path, token):
    db = open_db(db_path)
    try:
        return db.execute("SELECT key, feed, status, confirms FROM fills WHERE token_id = ?", [token]).fetchall()
    finally:
        db.conn.close()


def settle_window(db_path, token):
    """Until RTDS and the backstop (the Data API, 2 s behind) have both delivered the token's fill."""
    wait_for(lambda: {"rtds", "backstop"} <= {r[1] for r in rows(db_path, token)}, timeout_s=20,
             what="every settled feed to deliver the fill")


def test_a_fill_from_all_three_feeds_is_copied_once_from_the_mempool(live):
    sim, _, db_path = live
    rec = inject(sim, market="mp-a", outcome="Up", side="BUY", price="0.51", size="12")
    token = rec[0]["token_id"]
    wait_for(lambda: orders_for(sim, token), timeout_s=10, what="the copy")
    settle_window(db_path, token)
    assert len(orders_for(sim, token)) == 1
    stored = rows(db_path, token)
    [(pkey, _, pstatus, _)] = [r for r in stored if r[1] == "mempool"]
    assert pstatus == "confirmed"
    settled = [r for r in stored if r[1] in ("rtds", "backstop")]
    assert settled and all(r[2] == "linked" and r[3] == pkey for r in settled)


def test_a_settlement_pending_twice_under_two_hashes_is_copied_once(live):
    sim, _, db_path = live
    rec = inject_while(sim, "polygon_retry_share", market="mp-a", outcome="Down", side="BUY", price="0.51", size="12")
    token = rec[0]["token_id"]
    tx = rec[0]["tx_hash"]
    hashes = [a.hash for a in list(sim.polygon.attempts) if a.hash == tx or a.outcome == "reverted"][-2:]
    assert len(set(hashes)) == 2  # a reverted first attempt and the retry under the reported hash
    wait_for(lambda: orders_for(sim, token), timeout_s=10, what="the copy")
    settle_window(db_path, token)
    assert len(orders_for(sim, token)) == 1
    assert [r[2] for r in rows(db_path, token) if r[1] == "mempool"] == ["confirmed"]


def test_a_fill_the_node_never_shows_is_copied_from_rtds(live):
    sim, _, db_path = live
    rec = inject_while(sim, "polygon_unseen_share", market="mp-b", outcome="Up", side="BUY", price="0.51", size="12")
    token = rec[0]["token_id"]
    wait_for(lambda: orders_for(sim, token), timeout_s=10, what="the copy from RTDS")
    settle_window(db_path, token)
    assert len(orders_for(sim, token)) == 1
    stored = rows(db_path, token)
    assert not [r for r in stored if r[1] == "mempool"]
    assert "routed" in [r[2] for r in stored]


def test_a_reverted_settlement_raises_the_alert_and_is_held(live):
    sim, status, db_path = live
    rec = inject_while(sim, "polygon_revert_share", market="mp-b", outcome="Down", side="BUY", price="0.51", size="12")
    assert rec == []  # never listed by RTDS or the Data API
    attempt = list(sim.polygon.attempts)[-1]
    assert attempt.outcome == "reverted"
    wait_for(lambda: any(f == "mempool" for _, f, _, _ in _all_rows(db_path, attempt.hash)), timeout_s=10,
             what="the provisional fill")
    [(_, _, _, token)] = _all_rows(db_path, attempt.hash)
    wait_for(lambda: orders_for(sim, token), timeout_s=10, what="the provisional copy")
    wait_for(lambda: "pending_failed" in status()["telemetry"]["alerts_firing"], timeout_s=CONFIRM_S + 10,
             what="the alert")
    assert [r[2] for r in rows(db_path, token)] == ["failed"]
    assert len(orders_for(sim, token)) == 1  # hold: no unwind order


def _all_rows(db_path, tx_hash):
    db = open_db(db_path)
    try:
        return db.execute("SELECT key, feed, status, token_id FROM fills WHERE tx_hash = ?", [tx_hash]).fetchall()
    finally:
        db.conn.close()


def test_foreign_and_malformed_calls_are_counted_and_ignored(live):
    sim, status, db_path = live
    assert sim.polygon.faults.noise_per_s > 0  # a fifth of the noise is preapproveOrder: foreign calls
    bad = {"hash": "0x" + "ab" * 32, "to": V2_EXCHANGE, "input": SELECTORS["2"] + "00" * 40, "from": "0x" + "11" * 20}
    sim.call(sim.polygon.publish_pending, bad)
    wait_for(lambda: status()["telemetry"]["feeds"]["mempool"].get("malformed", 0) >= 1, timeout_s=15,
             what="the malformed count")
    time.sleep(1.0)  # more noise, foreign calls included: none of it is malformed
    feed = status()["telemetry"]["feeds"]["mempool"]
    assert feed["malformed"] == 1 and feed["connected"]
    rec = inject(sim, market="will-it-rain", outcome="Yes", side="BUY", price="0.51", size="12")
    token = rec[0]["token_id"]
    wait_for(lambda: orders_for(sim, token), timeout_s=10, what="the next copy")
    assert [r[1] for r in rows(db_path, token)][:1] == ["mempool"]
