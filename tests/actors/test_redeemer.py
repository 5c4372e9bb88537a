"""The redeemer driven through the Harness, with its real I/O thread and a fake chain behind its
steps: each position redeemed once, judged by balances, across restarts too."""
from __future__ import annotations

import select
import time
from decimal import Decimal as D

from thespian.actors import WatchMessage

from polycopy.actors.redeemer import Redeemer
from polycopy.errors import RejectedError
from polycopy.messages import Alert, Redeemed, RefreshBalance
from polycopy.policy.redeem import Holding
from polycopy.store import redemptions as store
from polycopy.store.db import open_db
from polycopy.venue.redeem import Sent
from tests.actors.harness import Harness
from tests.conftest import make_config

CID = "0x" + "c1" * 32
WIN, LOSE = "111", "222"


class FakeChain:
    """Our wallet on a fake chain: shares by condition, pUSD, a nonce that a submit moves on."""

    def __init__(self, shares=None, pusd="5", eoa=False):
        self.shares = shares if shares is not None else {CID: {WIN: D("10"), LOSE: D("4")}}
        self.payouts = {WIN: D(1), LOSE: D(0)}
        self.pusd, self.nonce = D(pusd), 3
        self.wallet, self.wallet_type = "0xw", "EOA" if eoa else "POLY_PROXY"
        self.holdings = [Holding(CID, dict(self.shares[CID]), dict(self.payouts), "btc-1m")]
        self.submits: list = []
        self.statuses: list = []  # what status() answers next ("pending" / "confirmed" / "failed:<msg>")
        self.pays = True  # a confirmed redemption burns and pays
        self.gas = D("30")
        self.submit_error: Exception | None = None

    def connect(self):
        return self.wallet

    def scan(self, ended=frozenset()):
        return [h for h in self.holdings if sum(self.shares.get(h.condition_id, {}).values()) > 0], {CID: 1.0}, []

    def prepare(self, cid):
        return dict(self.shares[cid]), self.pusd, self.nonce, self.gas if self.wallet_type == "EOA" else None

    def submit(self, kind, cid, amount):
        if self.submit_error is not None:
            raise self.submit_error
        self.submits.append((kind, cid))
        self.nonce += 1
        return Sent(tx_id=f"tx{len(self.submits)}", tx_hash="")

    def status(self, sent):
        answer = self.statuses.pop(0) if self.statuses else "confirmed"
        if answer == "confirmed" and self.pays:
            self._pay()
        if answer.startswith("failed"):
            return "failed", "0xh", answer.partition(":")[2]
        return answer, "0xh", ""

    def _pay(self):
        held = self.shares[CID]
        self.pusd += sum(s * self.payouts[t] for t, s in held.items())
        self.shares[CID] = {t: D(0) for t in held}

    def measure(self, cid):
        return dict(self.shares[cid]), self.pusd

    def recover(self, cid):
        return dict(self.shares[cid]), self.nonce


def start(tmp_path, chain, **redeem):
    cfg = make_config(tmp_path, execution={"mode": "live"},
                      redeem={"delay_after_resolution_s": 0, "interval_s": 1, "poll_ms": 10, **redeem})

    class R(Redeemer):
        def make_steps(self):
            return chain

    return Harness(R, config=cfg, peers={"ledger": "ledger", "telemetry": "telemetry"})


def pump(h, cond, timeout_s=10.0):
    """Deliver job results and fire timers until cond() or the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        if select.select([h.actor.jobs.fd], [], [], 0.02)[0]:
            h.deliver(WatchMessage([h.actor.jobs.fd]))
        elif not h.actor.busy:
            h.fire_wakeups()
    return cond()


def rows(h):
    return store.all_rows(h.actor.db)


def done(h):
    return lambda: rows(h) and all(r["state"] in store.TERMINAL for r in rows(h))


def test_a_won_position_is_redeemed_once_and_credited(tmp_path):
    chain = FakeChain()
    chain.statuses = ["pending", "pending", "confirmed"]
    h = start(tmp_path, chain)
    assert pump(h, done(h))
    (row,) = rows(h)
    assert (row["kind"], row["state"], D(row["credited_usd"]), row["attempts"]) == ("redeem", "done", D("10"), 1)
    assert chain.submits == [("redeem", CID)] and chain.pusd == D("15")
    assert [m.credited_usd for m in h.sent_to("ledger", Redeemed)] == [D("10")]
    assert len(h.sent_to("ledger", RefreshBalance)) == 1  # risk learns the credit from the next read
    chain.shares[CID] = {WIN: D("10"), LOSE: D("4")}  # the Data API lags: the same position listed again
    chain.holdings[0] = Holding(CID, {WIN: D("10"), LOSE: D("4")}, dict(chain.payouts), "btc-1m")
    for _ in range(3):
        h.actor._round()
        pump(h, lambda: not h.actor.busy)
    assert chain.submits == [("redeem", CID)] and len(rows(h)) == 1


def test_a_lost_position_is_closed_out_without_a_transaction(tmp_path):
    chain = FakeChain(shares={CID: {LOSE: D("4")}})
    chain.holdings = [Holding(CID, {LOSE: D("4")}, {LOSE: D(0)}, "btc-1m")]
    h = start(tmp_path, chain)
    assert pump(h, done(h))
    (row,) = rows(h)
    assert (row["kind"], row["state"]) == ("lost", "done") and chain.submits == []
    assert [m.kind for m in h.sent_to("ledger", Redeemed)] == ["lost"]


def test_already_redeemed_by_someone_else_counts_as_done(tmp_path):
    chain = FakeChain()
    h = start(tmp_path, chain)
    chain.prepare = lambda cid: ({WIN: D(0), LOSE: D(0)}, D("15"), 3, None)  # the auto-redeemer got there first
    assert pump(h, done(h))
    assert chain.submits == [] and rows(h)[0]["detail"].startswith("nothing held")


def test_precheck_skipped_counts_as_done(tmp_path):
    chain = FakeChain()
    chain.statuses = ["failed:PRECHECK_SKIPPED: redeem skipped: zero position balance"]
    h = start(tmp_path, chain)
    orig = chain.status

    def status(sent):  # the auto-redeemer paid between our read and our submit
        chain._pay()
        return orig(sent)

    chain.status = status
    assert pump(h, done(h))
    assert rows(h)[0]["state"] == "done" and chain.submits == [("redeem", CID)]


def test_a_confirmed_transaction_that_burned_and_paid_nothing_is_an_alert_not_a_success(tmp_path):
    chain = FakeChain()
    chain.pays = False
    burn = chain.status

    def status(sent):  # the shares go, no pUSD comes (a redeem through the wrong contract)
        chain.shares[CID] = {WIN: D(0), LOSE: D(0)}
        return burn(sent)

    chain.status = status
    h = start(tmp_path, chain)
    assert pump(h, done(h))
    assert rows(h)[0]["state"] == "given_up"
    assert [a.condition for a in h.sent_to("telemetry", Alert)] == ["redeem_unpaid"]


def test_failures_are_retried_then_left_to_the_operator_with_an_alert(tmp_path):
    chain = FakeChain()
    chain.statuses = ["failed:execution reverted"] * 5
    h = start(tmp_path, chain, max_attempts=2, retry_after_s=1, pending_alert_s=86400)
    h.actor.clock = lambda: time.time() + 1000 * len(chain.submits)  # each retry is due at once
    assert pump(h, done(h))
    assert rows(h)[0]["state"] == "given_up" and len(chain.submits) == 2
    assert [a.condition for a in h.sent_to("telemetry", Alert)] == ["redeem_failed"]


def test_a_market_gamma_does_not_call_closed_yet_waits_without_counting_an_attempt(tmp_path):
    chain = FakeChain()
    chain.submit_error = RejectedError("UserInputError: No market found for condition 0xc1")
    h = start(tmp_path, chain)
    assert pump(h, lambda: rows(h) and rows(h)[0]["state"] == "failed")
    assert rows(h)[0]["attempts"] == 0
    chain.submit_error = None
    h.actor.clock = lambda: time.time() + 60
    assert pump(h, done(h))
    assert rows(h)[0]["attempts"] == 1 and chain.submits == [("redeem", CID)]


def test_an_eoa_defers_while_gas_is_over_the_cap(tmp_path):
    chain = FakeChain(eoa=True)
    chain.gas = D("900")
    h = start(tmp_path, chain, eoa_max_gas_price_gwei=500)
    assert pump(h, lambda: h.actor.started >= 1 and not h.actor.busy)
    assert chain.submits == [] and rows(h)[0]["state"] == "waiting"
    chain.gas = D("50")
    h.actor.started = 0
    assert pump(h, done(h))
    assert chain.submits == [("redeem", CID)]


def crashed_row(tmp_path, chain, nonce):
    """The state a crash leaves: the row committed `submitting` with the nonce read before the submit."""
    cfg_db = open_db(tmp_path / "state" / "polycopy.sqlite")
    store.ensure(cfg_db)
    row = store.add(cfg_db, kind="redeem", condition_id=CID, amount_units=store.units(D("14")), expected_usd=D("10"),
                    payouts=chain.payouts)
    store.update(cfg_db, row["key"], state="submitting", attempts=1, nonce=nonce, pusd_before=chain.pusd,
                 shares_before=dict(chain.shares[CID]), submitted_ts=time.time())
    cfg_db.conn.close()


def test_a_submit_that_left_before_the_crash_is_never_sent_again(tmp_path):
    chain = FakeChain()
    crashed_row(tmp_path, chain, nonce=chain.nonce)
    chain.nonce += 1  # the relayer took it: its nonce moved on
    chain._pay()  # and it ran
    h = start(tmp_path, chain)
    assert pump(h, done(h))
    assert chain.submits == [] and rows(h)[0]["state"] == "done" and D(rows(h)[0]["credited_usd"]) == D("10")


def test_a_submit_that_never_left_is_sent_once_after_the_restart(tmp_path):
    chain = FakeChain()
    crashed_row(tmp_path, chain, nonce=chain.nonce)  # the nonce did not move: nothing left
    h = start(tmp_path, chain)
    assert pump(h, done(h))
    assert chain.submits == [("redeem", CID)] and rows(h)[0]["state"] == "done"


def test_a_sent_redemption_that_has_not_landed_is_followed_and_alerted_when_too_long(tmp_path):
    chain = FakeChain()
    crashed_row(tmp_path, chain, nonce=chain.nonce)
    chain.nonce += 1  # it left, and has not run yet
    h = start(tmp_path, chain, pending_alert_s=1)
    h.actor.clock = lambda: time.time() + 5
    assert pump(h, lambda: h.sent_to("telemetry", Alert))
    assert [a.condition for a in h.sent_to("telemetry", Alert)] == ["redeem_pending"] and chain.submits == []
    chain._pay()
    assert pump(h, done(h))
    assert chain.submits == [] and rows(h)[0]["state"] == "done"
