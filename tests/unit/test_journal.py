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
                          valid_until_ts=123.0, park_until_ts=150.0, tick_size=D("0.01"), signed_ts=100.0)


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


class _Beats:
    """A venue whose heartbeat answers are scripted."""

    def __init__(self, answers):
        self.answers = list(answers)

    def heartbeat(self, heartbeat_id, timeout=1.0):
        status = self.answers.pop(0)
        return status, {}, {"heartbeat_id": "h"} if status == 200 else {"error": "Too Many Requests"}


def test_a_rate_limited_heartbeat_inside_the_venue_window_is_no_failure():
    from polycopy.venue.heartbeat import GRACE_S, RETRY_S, Heartbeats

    now = [100.0]
    hb = Heartbeats(_Beats([200, 429, 429, 429]), clock=lambda: now[0])
    assert hb.beat() and hb.next_in_s(5) == 5
    now[0] += 5
    assert hb.beat() is True  # 429, but 5 s after an accepted beat: the venue still counts us alive
    assert hb.next_in_s(5) == RETRY_S  # and we try again soon
    now[0] += 2
    assert hb.beat() is True
    now[0] += GRACE_S
    assert hb.beat() is False  # past the window: fail closed


def test_the_first_heartbeat_failing_admits_nothing():
    from polycopy.venue.heartbeat import Heartbeats

    hb = Heartbeats(_Beats([429]), clock=lambda: 0.0)
    assert hb.beat() is False and hb.ok is False
