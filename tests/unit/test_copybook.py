"""Source vs ours from a run's database (ops/copybook.py): positions, the copy waterfall, not-copied counts."""
from __future__ import annotations

import pytest

from polycopy.ops import copybook
from tests.unit.run_db import BTC_DOWN, BTC_UP, make_run_db


@pytest.fixture
def conn(tmp_path):
    return make_run_db(tmp_path / "polycopy.sqlite").conn


def test_positions_put_the_source_beside_ours_with_market_names(conn):
    name = copybook.namer(copybook.fill_names(conn))
    rows = {p["token_id"]: p for p in copybook.positions(conn, name, "paper")}
    up, down = rows[BTC_UP], rows[BTC_DOWN]
    assert up["market"] == "BTC Up · 8:30–8:45 PM ET" and down["market"] == "BTC Down · 8:30–8:45 PM ET"
    assert up["source_shares"] == 24 * 10 + 2 * 3  # every source fill, copied or not
    # 24 copies: 3 not sent (n % 7 == 6), 5 of the rest partial at 6 (n % 5 == 0), the others 10
    sent = [n for n in range(24) if n % 7 != 6]
    assert up["shares"] == sum(6 if n % 5 == 0 else 10 for n in sent)
    assert down["source_shares"] == -5 and down["shares"] == -4 and down["cost_usd"] == -1.56
    assert down["source_cost_usd"] == -2.0


def test_dry_run_positions_count_the_orders_that_would_have_gone(tmp_path):
    db = make_run_db(tmp_path / "p.sqlite")
    db.conn.execute("UPDATE exec_orders SET mode='dry_run', reason='dry_run', state='not_sent', filled_size='0'")
    rows = {p["token_id"]: p for p in copybook.positions(db.conn, copybook.namer({}), "dry_run")}
    assert rows[BTC_DOWN]["shares"] == -5  # the order's size, as it would have been sent


def test_the_waterfall_shows_each_decision_as_source_trade_then_our_order(conn):
    rows = copybook.waterfall(conn, copybook.namer(copybook.fill_names(conn)), limit=40)
    by_id = {r["intent_id"]: r for r in rows}
    assert rows[0]["intent_id"] == "i999" and rows[0]["outcome"] == "dropped" and rows[0]["market"] == "-"
    filled = by_id["i1"]  # n=1: 10 filled at source + 0.00
    assert filled["outcome"] == "filled" and filled["size"] == 10 and filled["gap_cents"] == 0.0
    assert filled["market"] == "BTC Up · 8:30–8:45 PM ET" and filled["delay_ms"] == pytest.approx(2000, abs=1)  # signed 1.5 + 0.5 s after
    worse = by_id["i2"]  # n=2: paid a cent more than the source on a BUY: +1 cent, worse for us
    assert worse["gap_cents"] == 1.0
    assert by_id["i5"]["outcome"] == "partial" and by_id["i5"]["size"] == 6
    assert by_id["i6"]["outcome"] == "not_sent" and by_id["i6"]["reason"].startswith("beyond_slippage")
    assert by_id["i901"]["outcome"] == "rejected" and by_id["i901"]["reason"] == "cap_daily"
    sell = by_id["i900"]  # a SELL at 0.39 against the source's 0.40: a cent worse
    assert sell["side"] == "SELL" and sell["outcome"] == "partial" and sell["gap_cents"] == 1.0


def test_a_fresh_state_folder_reads_empty(tmp_path):
    import sqlite3

    conn = sqlite3.connect(tmp_path / "empty.sqlite")
    name = copybook.namer({})
    assert copybook.positions(conn, name, "paper") == [] and copybook.waterfall(conn, name) == []
    assert copybook.fill_names(conn) == {}
