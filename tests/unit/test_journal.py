import sqlite3
from decimal import Decimal as D

import pytest

from polycopy.store import journal
from polycopy.store.db import open_db


def _intent(db, iid="i1"):
    return journal.save_intent(db, intent_id=iid, token_id="t", condition_id="c", side="BUY", size=D("10"),
                               source_price=D("0.52"), max_notional=D("6"))


def _order(db, oid="0xa", iid="i1"):
    journal.journal_order(db, order_id=oid, intent_id=iid, token_id="t", condition_id="c", side="BUY", price=D("0.53"),
                          size=D("10"), notional=D("5.30"), order_type="FAK", order_json='{"salt":1}', mode="live",
                          valid_until_ts=123.0)


def test_intent_saved_once():
    db = open_db(":memory:")
    journal.ensure(db)
    assert _intent(db) is True
    assert _intent(db) is False
    assert journal.load_intent(db, "i1")["state"] == "received"


def test_one_order_per_intent_and_committed_before_post(tmp_path):
    path = tmp_path / "j.sqlite"
    db = open_db(path)
    journal.ensure(db)
    _intent(db)
    _order(db)
    with pytest.raises(sqlite3.IntegrityError):
        _order(db, oid="0xb")
    # another connection (= a restarted process) sees the committed order and its bytes
    other = open_db(path)
    row = journal.order_for_intent(other, "i1")
    assert row["order_id"] == "0xa" and row["order_json"] == '{"salt":1}' and row["state"] == "signed"
    assert row["price"] == D("0.53") and row["posts"] == 0
    assert journal.load_intent(other, "i1")["state"] == "ordered"


def test_states_and_posts():
    db = open_db(":memory:")
    journal.ensure(db)
    _intent(db)
    _order(db)
    journal.count_post(db, "0xa")
    journal.update_order(db, "0xa", state="unknown", filled_size=D("1.5"), trade_ids=("t1",))
    row = journal.get_order(db, "0xa")
    assert row["posts"] == 1 and row["filled_size"] == D("1.5") and row["trade_ids"] == ("t1",)
    assert [r["order_id"] for r in journal.open_orders(db)] == ["0xa"]
    journal.update_order(db, "0xa", state="accepted", settlement="MINED")
    assert journal.open_orders(db) == []
    assert [r["order_id"] for r in journal.unsettled_orders(db)] == ["0xa"]
    journal.update_order(db, "0xa", settlement="CONFIRMED")
    assert journal.unsettled_orders(db) == []
