"""Reconciliation policy (pure); the Data API rows it reads are tested in test_data_api.py."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from polycopy.policy.reconcile import (Correction, Params, PositionChange, Skip, TokenView, activity_changes,
                                       apply_changes, plan, target_shares)
from polycopy.policy.sizing import SizingParams
from polycopy.wire.data_api import Activity
from tests.conftest import make_config

NOW = 1_800_000_000
END = NOW + 600
CID = "0xabc"
UP, DOWN = "111", "222"


@pytest.fixture
def params(tmp_path) -> Params:
    return Params.from_config(make_config(tmp_path, reconcile={"settle_s": 20, "tolerance_shares": 1}))


def view(**kw) -> TokenView:
    base = dict(token_id=UP, condition_id=CID, source=D("40"), ours=D("40"), price=D("0.5"), end_ts=END,
                min_order_size=D("5"))
    return TokenView(**{**base, **kw})


# ---------------------------------------------------------------- targets


def test_target_follows_the_multiplier():
    s = SizingParams("proportional", D("0.5"), D("5"), D("1"), D("25"), 120, D("5"))
    assert target_shares(D("41"), s) == D("20.50")
    assert target_shares(D("0"), s) == 0
    assert target_shares(D("41"), replace(s, mode="capped_proportional")) == D("20.50")
    assert target_shares(D("41"), replace(s, mode="fixed")) is None  # no share ratio: follow exits only
    assert target_shares(D("0"), replace(s, mode="fixed")) == 0


def test_params_come_from_config(params):
    assert params.tolerance_shares == D("1") and params.max_correction_usd == D("25")
    assert params.near_expiry_s == 25 and params.settle_s == 20
    assert params.sizing.mode == "capped_proportional"


# ---------------------------------------------------------------- plan


def test_in_line_or_within_tolerance_is_nothing(params):
    assert plan(view(), NOW, params) is None
    assert plan(view(ours=D("39.2")), NOW, params) is None  # 0.8 shares off <= 1


def test_missed_fill_buys_the_drift(params):
    c = plan(view(source=D("50"), ours=D("40")), NOW, params)
    assert isinstance(c, Correction)
    assert (c.side, c.size, c.target, c.cause, c.opening, c.end_ts) == ("BUY", D("10.00"), D("50.00"), "missed_fill",
                                                                        True, END)


def test_a_correction_never_exceeds_the_correction_cap(params):
    c = plan(view(source=D("400"), ours=D("0")), NOW, params)
    per_share = params.sizing.notional_per_share(D("0.5"))
    cap = D("25") / per_share
    assert c.side == "BUY" and c.size <= cap and c.size * per_share <= D("25")
    assert c.size > cap - D("0.01")


def test_source_exit_sells_what_we_hold(params):
    c = plan(view(source=D("0"), ours=D("12")), NOW, params)
    assert (c.side, c.size, c.cause, c.opening) == ("SELL", D("12.00"), "source_reduced", False)
    c = plan(view(source=D("0"), ours=D("12"), cause="merge"), NOW, params)
    assert c.cause == "merge"


@pytest.mark.parametrize("kw, reason", [
    ({"resolved": True}, "market_closed"),
    ({"accepting_orders": False}, "market_closed"),
    ({"end_ts": 0}, "market_end_unknown"),
    ({"end_ts": NOW + 10}, "near_expiry"),
    ({"end_ts": NOW - 10}, "market_ended"),
    ({"pending": True}, "correction_pending"),
    ({"last_source_trade_ts": NOW - 5}, "source_trading"),
    ({"ours_changed": True}, "ours_moving"),
    ({"price": D("0")}, "no_price"),
    ({"tracked": False}, "not_tracked"),
])
def test_guards(params, kw, reason):
    out = plan(view(source=D("50"), ours=D("40"), **kw), NOW, params)
    assert isinstance(out, Skip) and out.reason == reason
    assert out.drift == D("10")


def test_untracked_positions_may_still_be_sold(params):
    c = plan(view(source=D("0"), ours=D("10"), tracked=False), NOW, params)
    assert isinstance(c, Correction) and c.side == "SELL"


def test_source_trade_long_enough_ago_is_fair_game(params):
    assert isinstance(plan(view(source=D("50"), ours=D("40"), last_source_trade_ts=NOW - 21), NOW, params), Correction)


def test_drift_too_small_to_trade(params):
    out = plan(view(source=D("43"), ours=D("40"), min_order_size=D("5")), NOW, params)
    assert isinstance(out, Skip) and out.reason == "below_min_size"
    out = plan(view(source=D("43"), ours=D("40"), min_order_size=D("1"), price=D("0.2")), NOW, params)
    assert isinstance(out, Skip) and out.reason == "below_min_notional"  # 3 x 0.2 < $1


# ---------------------------------------------------------------- activity -> position changes


def act(kind, size, ts=NOW, cid=CID, token=""):
    return Activity(type=kind, condition_id=cid, size=D(size), timestamp=ts, token_id=token)


def test_activity_becomes_position_changes():
    tokens = {CID: (UP, DOWN)}
    merge = activity_changes([act("MERGE", "10")], tokens)
    assert merge == [PositionChange(UP, D("-10"), "merge", NOW), PositionChange(DOWN, D("-10"), "merge", NOW)]
    split = activity_changes([act("SPLIT", "4")], tokens)
    assert {(c.token_id, c.delta) for c in split} == {(UP, D("4")), (DOWN, D("4"))}
    redeem = activity_changes([act("REDEEM", "7")], tokens)
    assert {(c.token_id, c.delta, c.cause) for c in redeem} == {(UP, None, "redeem"), (DOWN, None, "redeem")}
    conv = activity_changes([act("CONVERSION", "3")], tokens)
    assert conv == [PositionChange(DOWN, D("-3"), "conversion", NOW)]  # the "No" side is converted
    assert activity_changes([act("MERGE", "1", cid="0xunknown"), act("TRADE", "1")], tokens) == []


def test_apply_changes_in_time_order():
    sizes = {UP: D("20"), DOWN: D("15")}
    changes = activity_changes([act("MERGE", "15", NOW + 1), act("SPLIT", "5", NOW)], {CID: (UP, DOWN)})
    assert apply_changes(sizes, changes) == {UP: D("10"), DOWN: D("5")}
    assert apply_changes(sizes, activity_changes([act("MERGE", "99")], {CID: (UP, DOWN)})) == {UP: 0, DOWN: 0}
    assert apply_changes(sizes, activity_changes([act("REDEEM", "1")], {CID: (UP, DOWN)})) == {UP: 0, DOWN: 0}


# ---------------------------------------------------------------- memory between rounds


def test_memory_tracks_changes_against_the_baseline(params):
    from polycopy.policy.reconcile_memory import Memory

    from polycopy.wire.data_api import Position

    m = Memory()
    assert m.take_baseline({UP: D("30")}) and not m.take_baseline({})
    held = Position(token_id=UP, condition_id=CID, size=D("30"), cur_price=D("0.5"), avg_price=D("0.5"), slug="rain")
    old = m.view(UP, held, D(0), D("0.5"), None, 0, NOW, params)
    assert old.tracked is False and old.end_ts == 0  # held before we started; no facts, no 15-minute slug
    assert not m.may_act(UP, held, D(0), params)
    grown = replace(held, size=D("45"), slug="btc-updown-15m-1799999100")
    v = m.view(UP, grown, D(0), D("0.5"), None, 0, NOW, params)
    assert v.tracked and v.end_ts == 0 and UP in m.tracked  # the end comes from the catalog's market, not the slug
    assert m.may_act(UP, grown, D(0), params) and not m.may_act(DOWN, None, D(0), params)


def test_memory_backs_off_futile_corrections(params):
    from polycopy.policy.reconcile_memory import Memory

    m = Memory()
    c = Correction(UP, CID, "BUY", D("10"), D("0.5"), D("50"), D("50"), D("40"), "missed_fill", END)
    m.corrected(c, NOW, params)
    assert m.pending_until[UP] == NOW + 20
    m.corrected(c, NOW + 30, params)  # our position did not move: futile
    assert m.pending_until[UP] == NOW + 30 + 40
    m.corrected(replace(c, ours=D("45")), NOW + 80, params)  # it moved: back to settle_s
    assert m.pending_until[UP] == NOW + 100 and m.strikes[UP] == 0


def test_memory_keeps_activity_of_unknown_markets_for_later():
    from polycopy.policy.reconcile_memory import Memory

    m = Memory()
    rows = [act("MERGE", "5", NOW), act("MERGE", "2", NOW, cid="0xnew")]
    changes, unknown = m.note_activity(rows, {CID: (UP, DOWN)})
    assert len(changes) == 2 and [a.condition_id for a in unknown] == ["0xnew"]
    assert m.causes[UP] == ("merge", NOW)
    changes, unknown = m.note_activity(rows, {CID: (UP, DOWN), "0xnew": ("7", "8")})
    assert [c.token_id for c in changes] == ["7", "8"] and unknown == []  # the known row is not counted twice


def test_a_copy_refused_for_a_standing_reason_is_not_a_missed_fill(params):
    v = view(source=D("50"), ours=D("40"))
    refused = replace(v, refused={"BUY": "region_restricted"})
    assert plan(refused, NOW, params) == Skip(UP, "refused:region_restricted", D("10.00"))
    sells = replace(view(source=D("0"), ours=D("12")), refused={"BUY": "region_restricted"})
    assert plan(sells, NOW, params).side == "SELL"  # closing what we hold still goes


def test_standing_refusals_are_read_from_the_executor_and_risk(tmp_path):
    import time

    from polycopy.messages import CopyIntent
    from polycopy.store import exposure, journal
    from polycopy.store.db import open_db
    from polycopy.store.refusals import standing_refusals

    db = open_db(tmp_path / "s.sqlite")
    journal.ensure(db)
    exposure.ensure(db)
    for iid, token, reason in (("a", "1", "region_restricted"), ("b", "2", "fak_no_match")):
        journal.save_intent(db, intent_id=iid, token_id=token, condition_id="c", side="BUY", size=D(5),
                            source_price=D("0.5"), max_notional=D(3))
        journal.set_intent(db, iid, "rejected", reason)
    it = CopyIntent(intent_id="c", token_id="3", condition_id="c", side="BUY", size=D(5), source_price=D("0.5"),
                    source_size=D(5), fill_keys=(), first_recv_mono_ns=0)
    exposure.save_decision(db, it, "rejected", "region_close_only", D(0), D(0), 1.0)
    exposure.save_decision(db, it, "rejected", "cap_market", D(0), D(0), 1.0)  # frees up later: not standing
    got = standing_refusals(db, time.time() - 60)
    assert got == {("1", "BUY"): "region_restricted", ("3", "BUY"): "region_close_only"}
    assert standing_refusals(db, time.time() + 60) == {}
