"""The ledger through the Harness with its real I/O thread: balance reads go to risk stamped with
when they were asked, a low balance alerts, and PnL is computed from the journal and the Data API."""
from __future__ import annotations

import select
import time
from decimal import Decimal as D

from thespian.actors import WatchMessage

from polycopy.actors.ledger import BALANCE, PNL, Ledger
from polycopy.messages import Alert, BalanceSeen, CapitalReport, RefreshBalance
from polycopy.store import journal
from polycopy.store import pnl as pnl_store
from polycopy.store.db import open_db
from polycopy.wire.balance import BalanceAllowance
from polycopy.wire.data_api import Activity, Resolution
from tests.actors.harness import Harness
from tests.conftest import make_config

CID = "0x" + "ab" * 32
UP, DOWN = "11", "22"
SOURCE = "0x1d0034134e339a309700ff2d34e99fa2d48b0313"


class Reader:
    def __init__(self, balances):
        self.balances = list(balances)
        self.reads = 0

    def read(self):
        self.reads += 1
        return BalanceAllowance(D(self.balances.pop(0)), D("1000"))


class Data:
    """The Data API after the market resolved Up: the source bought 100 Up at 0.40 and redeemed."""

    def activity(self, user, start, types, conditions=()):
        assert user == SOURCE and conditions == [CID]
        return [Activity(type="TRADE", condition_id=CID, size=D("100"), timestamp=1, token_id=UP, side="BUY",
                         price=D("0.40")),
                Activity(type="REDEEM", condition_id=CID, size=D("100"), timestamp=2, usdc=D("100"))]

    def positions(self, user, conditions=()):
        return []  # both redeemed: nothing held

    def resolutions(self, conditions):
        return [Resolution(CID, "resolved", (D(1), D(0)))]


def start(tmp_path, reader, **capital):
    cfg = make_config(tmp_path, execution={"mode": "live"},
                      capital={"balance_poll_s": 1, "pnl_interval_s": 1, "low_balance_alert_usd": 50, **capital})

    class L(Ledger):
        def make_reader(self):
            return reader

        def make_data(self):
            return Data()

        def make_wallet(self):
            return "0xours"

    return Harness(L, config=cfg, peers={"risk": "risk", "telemetry": "telemetry"})


def pump(h, cond, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not cond():
        if select.select([h.actor.jobs.fd], [], [], 0.02)[0]:
            h.deliver(WatchMessage([h.actor.jobs.fd]))
    return cond()


def test_balance_reads_reach_risk_with_the_instant_they_were_asked_and_a_low_balance_alerts(tmp_path):
    reader = Reader(["80", "40", "60"])
    h = start(tmp_path, reader)
    before = time.monotonic_ns()
    assert pump(h, lambda: len(h.sent_to("risk", BalanceSeen)) == 1)
    (seen,) = h.sent_to("risk", BalanceSeen)
    assert seen.balance_usd == D("80") and seen.allowance_usd == D("1000") and seen.asked_mono_ns >= before
    h.deliver(RefreshBalance(reason="redemption paid"))
    assert pump(h, lambda: len(h.sent_to("risk", BalanceSeen)) == 2)
    h.fire_wakeups(lambda p: p == BALANCE)
    assert pump(h, lambda: len(h.sent_to("risk", BalanceSeen)) == 3)
    asked = [s.asked_mono_ns for s in h.sent_to("risk", BalanceSeen)]
    assert asked == sorted(asked)
    assert [(a.condition, a.resolved) for a in h.sent_to("telemetry", Alert)] == [("low_balance", False),
                                                                                ("low_balance", True)]
    assert h.sent_to("telemetry", CapitalReport)[-1].report["balance_usd"] == "60"


def test_pnl_from_the_journal_and_the_source_activity_by_hand(tmp_path):
    h = start(tmp_path, Reader(["100"] * 5))
    db = open_db(h.actor.config.store.path)
    journal.ensure(db)
    for oid, side, size, usd in (("o1", "BUY", "10", "4.20"), ("o2", "SELL", "2", "1.00")):
        journal.save_intent(db, intent_id=oid, token_id=UP, condition_id=CID, side=side, size=D(size),
                            source_price=D("0.4"), max_notional=D("5"))
        journal.journal_order(db, order_id=oid, intent_id=oid, token_id=UP, condition_id=CID, side=side,
                              price=D("0.5"), size=D(size), notional=D(usd), order_type="FAK", order_json="{}",
                              mode="live", valid_until_ts=0, park_until_ts=0, tick_size=D("0.01"),
                              signed_ts=time.time())
        journal.update_order(db, oid, state="accepted", filled_size=D(size), filled_notional=D(usd))
    h.actor.final.clear()
    h.fire_wakeups(lambda p: p == PNL)
    assert pump(h, lambda: pnl_store.load(db))
    (row,) = pnl_store.load(db)
    # ours: bought 10 @ 0.42 (4.20), sold 2 for 1.00, 8 Up held at payout 1 (nothing redeemed yet, and the
    # venue lists nothing for us: held = {} -> our wallet shows no position) -> 1.00 - 4.20 = -3.20
    # source: 100 @ 0.40 = 40, redeemed 100 -> +60; ratio 1 -> tracking error -63.20
    assert (row["resolved"], row["ours_total"], row["source_total"], row["tracking_error"]) == (
        1, "-3.200000", "60.000000", "-63.200000")
    report = h.sent_to("telemetry", CapitalReport)[-1].report
    assert report["pnl"]["ours_total"] == "-3.200000" and report["pnl"]["tracking_error"] == "-63.200000"
