"""Which resolved positions are redeemed, which are closed out, and when a redemption paid
(policy/redeem.py); the redeemer's table is idempotent per kind, condition and amount."""
from decimal import Decimal as D

from polycopy.policy.redeem import holdings, judge, winning
from polycopy.store import redemptions as store
from polycopy.store.db import open_db
from polycopy.wire.data_api import Position


def pos(cid, token, size, price, redeemable=True):
    return Position(token_id=token, condition_id=cid, size=D(size), cur_price=D(price), avg_price=D(0),
                    redeemable=redeemable, slug=f"m-{cid}")


def test_holdings_group_by_market_and_tell_won_from_lost():
    rows = [pos("a", "a1", "10", "1"), pos("a", "a2", "4", "0"), pos("b", "b1", "3", "0"),
            pos("c", "c1", "5", "0.5", redeemable=False), pos("d", "d1", "0", "1")]
    by = {h.condition_id: h for h in holdings(rows)}
    assert sorted(by) == ["a", "b"]  # c is open, d holds nothing
    assert (by["a"].expected_usd, by["a"].amount, by["a"].lost) == (D("10"), D("14"), False)
    assert (by["b"].expected_usd, by["b"].lost) == (D(0), True)
    assert winning(by["a"].shares, by["a"].payouts) == D("10")


def test_a_redemption_is_judged_by_the_balances_not_the_transaction():
    ok = judge(D("10"), D("10"), D("0"), D("5"), D("15"))
    assert (ok.state, ok.credited_usd) == ("done", D("10"))
    # our own BUY of 4 pUSD landed meanwhile: +6 observed is still the payout
    assert judge(D("10"), D("10"), D("0"), D("5"), D("11"), buys_usd=D("4")).state == "done"
    # the transaction "succeeded" but nothing happened (CTF called directly): the shares are still there
    assert judge(D("10"), D("10"), D("10"), D("5"), D("5")).state == "not_redeemed"
    # shares burned, pUSD did not come (paid in another token): unpaid, whatever the transaction said
    assert judge(D("10"), D("10"), D("0"), D("5"), D("5")).state == "unpaid"
    # a SELL of ours inside the window must not pass for the payout
    assert judge(D("10"), D("10"), D("0"), D("5"), D("15"), sells_usd=D("10")).state == "unpaid"
    # nothing held when we looked: the auto-redeemer got there first
    assert judge(D("10"), D("0"), D("0"), D("5"), D("5")).state == "done"


def test_rows_are_unique_per_kind_condition_and_amount(tmp_path):
    db = open_db(tmp_path / "s.sqlite")
    store.ensure(db)
    row = store.add(db, kind="redeem", condition_id="0xc", amount_units=store.units(D("14")), expected_usd=D("10"),
                    payouts={"t1": D(1), "t2": D(0)})
    assert row is not None and row["state"] == "waiting"
    assert store.add(db, kind="redeem", condition_id="0xc", amount_units=14_000_000, expected_usd=D("10")) is None
    store.update(db, row["key"], state="submitting", nonce=7, shares_before={"t1": D("10"), "t2": D("4")},
                 pusd_before=D("5"))
    again = store.get(open_db(tmp_path / "s.sqlite"), row["key"])  # another connection sees it committed
    assert again["state"] == "submitting" and again["nonce"] == 7
    assert store.shares_of(again) == {"t1": D("10"), "t2": D("4")}
    assert store.payouts_of(again) == {"t1": D(1), "t2": D(0)}
    store.update(db, row["key"], state="done", credited_usd=D("10"), done_ts=again["seen_ts"] + 42, resolved_ts=1.0)
    assert store.credited_by_condition(db) == {"0xc": (D("10"), D(0))}
    s = store.summary(db)
    assert s["redeemed"] == 1 and s["redeemed_usd"] == "10" and s["pending"] == 0
