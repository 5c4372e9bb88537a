"""Redeemer: resolved positions back into pUSD, each exactly once, off the hot path.

Every `redeem.interval_s` it lists our positions on the Data API v2 (`/v2/positions`,
`redeemable`) and their resolutions (`/v2/resolutions`), and for each resolved market we hold:
- all held outcomes lost: the position is closed out in the books (`lost`, no transaction);
- otherwise, `delay_after_resolution_s` after it resolved, it is redeemed through the official SDK
  (venue/redeem.py: the collateral adapters for CTF and neg-risk markets, the Router for v2).
With `redeem.merge`, YES + NO held in a market that has ended (and is not resolved) are merged.

Exactly once (store/redemptions.py, one row per kind, condition and amount, FULL commits): the
row is committed as `submitting`, with the relayer (or EOA) nonce read just before, before the
submit leaves. Submits go one at a time, so after a crash a row left `submitting` was sent if and
only if that nonce has moved on: then it is followed by its balances, never sent again; if the
nonce has not moved and the shares are still held, nothing left and it is submitted now. A
submitted redemption is followed to a terminal state, and judged by the wallet's balances
(policy/redeem.py), never by the transaction state alone. "Already redeemed" (Polymarket's
auto-redeemer, or the relayer's `STATE_FAILED` + `PRECHECK_SKIPPED`) counts as done. A payout
makes the ledger read the balance at once (`RefreshBalance`), which is how risk sees the credit.

Every SDK and HTTP call is blocking and runs on the actor's I/O thread (io_jobs.py); the actor
never waits, and copying never waits on it. At most `batch_size` redemptions start per round
(the relayer's `/submit` is rate limited). Alerts: a redemption pending longer than
`pending_alert_s`, one that failed `max_attempts` times, one that burned the shares and paid nothing.

Long because one redemption's state machine (scan, prepare, submit, recover, follow, measure,
endings) reads best in one place; each step is a short handler, the blocking work is in
redeem_steps.py and the rules in policy/redeem.py.
"""
from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from polycopy import bootstrap
from polycopy.actors.base import ChildActor
from polycopy.actors.io_jobs import JobsActor
from polycopy.actors.redeem_steps import Steps, trades_between
from polycopy.errors import RejectedError, TemporaryError
from polycopy.messages import Alert, RefreshBalance, Redeemed
from polycopy.policy.redeem import judge, winning
from polycopy.store import redemptions as store
from polycopy.store.db import DURABLE, open_db
from polycopy.venue.redeem import DONE, FAILED, Sent

ROUND, ONCE, FOLLOW = "redeem-round", "redeem-round-once", "redeem-follow"
CONNECT, RECOVER = "redeem-connect", "redeem-recover"
CONNECT_RETRY_S = 30.0
PRECHECK = "PRECHECK_SKIPPED"
NOT_CLOSED = "No market found"  # the SDK's Gamma lookup (closed=true) before Gamma calls it closed


class Redeemer(JobsActor, ChildActor):
    role = "redeemer"
    clock = staticmethod(time.time)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.db = self.jobs = self.steps = None
        self.connected = self.connecting = self.down = False
        self.busy: set[str] = set()  # row keys with a job outstanding
        self.submitting = ""  # the one row between its nonce read and the venue's answer
        self.started = 0  # redemptions started since the last periodic round
        self.alerted: set[str] = set()

    def make_steps(self) -> Steps:
        return bootstrap.redeem_steps(self.config)

    # ------------------------------------------------------------ lifecycle

    def on_init(self, msg) -> None:
        self.db = open_db(self.config.store.path, DURABLE)  # a row is on disk before its submit
        store.ensure(self.db)
        self.steps = self.make_steps()
        self.start_jobs("redeemer-io")
        self._connect()
        self.wakeupAfter(timedelta(seconds=1), payload=ROUND)

    def _connect(self) -> None:
        if not self.connecting:
            self.connecting = True
            self.jobs.submit(("connect", ""), self.steps.connect)

    def _job(self, kind: str, key: str, fn, *args, urgent: bool = False) -> None:
        self.busy.add(key)
        self.jobs.submit((kind, key), fn, *args, urgent=urgent)

    # ------------------------------------------------------------ timers

    def on_wakeup(self, payload) -> None:
        if payload == ROUND:
            self.started = 0
            self._round()
            self.wakeupAfter(timedelta(seconds=self.config.redeem.interval_s), payload=ROUND)
        elif payload == ONCE:
            self._round()
        elif payload == CONNECT:
            self._connect()
        elif isinstance(payload, tuple) and payload[0] == FOLLOW:
            self._follow(payload[1])
        elif isinstance(payload, tuple) and payload[0] == RECOVER:
            row = store.get(self.db, payload[1])
            self._job("recover", payload[1], self.steps.recover, row["condition_id"], urgent=True)

    def _round(self) -> None:
        if not self.connected:
            return
        if "scan" not in self.busy:
            self._job("scan", "scan", self.steps.scan, self._ended() if self.config.redeem.merge else frozenset())
        now = self.clock()
        cfg = self.config.redeem
        for row in store.active(self.db):
            if row["key"] in self.busy:
                continue
            if row["state"] == "failed" and now >= row["retry_at_ts"]:
                store.update(self.db, row["key"], state="waiting")
            elif row["state"] in ("submitted", "submitting") and not self.submitting:
                self._pending_alert(row, now)
        if not self.submitting and self.started < cfg.batch_size:
            due = [r for r in store.active(self.db) if r["state"] == "waiting" and r["key"] not in self.busy
                   and now >= max(r["seen_ts"], r["resolved_ts"]) + cfg.delay_after_resolution_s]
            if due:
                self._prepare(due[0])

    # ------------------------------------------------------------ results from the I/O thread

    def receiveMsg_WatchMessage(self, msg, sender) -> None:
        if self.jobs is None:
            return
        for (kind, key), result, error in self.jobs.drain():
            self.busy.discard(key)
            handler = getattr(self, f"_{kind}_done")
            if error is not None and not isinstance(error, (TemporaryError, RejectedError)):
                self.log.error("redeemer {} {} failed: {}: {}", kind, key[:60], type(error).__name__, error)
            handler(key, result, error)

    def _connect_done(self, key, result, error) -> None:
        self.connecting = False
        if error is not None:
            self.log.warning("redeemer cannot reach the venue yet ({}); retry in {:.0f}s", error, CONNECT_RETRY_S)
            self._alert("redeemer_down", f"the redeemer cannot start: {str(error)[:200]}")
            self.down = True
            self.wakeupAfter(timedelta(seconds=CONNECT_RETRY_S), payload=CONNECT)
            return
        self.connected = True
        if self.down:
            self._alert("redeemer_down", "the redeemer is running", resolved=True)
        self.log.info("redeemer ready for wallet {} ({})", self.steps.wallet, self.steps.wallet_type)
        for row in store.active(self.db):  # what a previous run left half done
            if row["state"] == "submitting":
                self.submitting = row["key"]
                self._job("recover", row["key"], self.steps.recover, row["condition_id"], urgent=True)
                return  # one at a time: the rest wait until it is settled
            if row["state"] == "submitted":
                self._follow(row["key"])

    def _scan_done(self, key, result, error) -> None:
        if error is not None:
            self.log.warning("redeemer scan: {}", error)
            return
        holdings, resolved_ts, mergeable = result
        now = self.clock()
        for h in holdings:
            if any(r["state"] in store.ACTIVE for r in store.for_condition(self.db, h.condition_id)):
                continue
            kind = "lost" if h.lost else "redeem"
            row = store.add(self.db, kind=kind, condition_id=h.condition_id, amount_units=store.units(h.amount),
                            expected_usd=h.expected_usd, state="done" if h.lost else "waiting", slug=h.slug,
                            resolved_ts=resolved_ts.get(h.condition_id, 0), payouts=h.payouts, now=now,
                            detail="lost: closed out, no transaction" if h.lost else "")
            if row is not None and h.lost:
                self.log.info("position in {} lost ({} shares): closed out", h.slug or h.condition_id[:14], h.amount)
                self.tell("ledger", Redeemed(condition_id=h.condition_id, kind="lost", state="done"))
            elif row is not None:
                self.log.info("position in {} resolved: {} pUSD to redeem", h.slug or h.condition_id[:14], h.expected_usd)
        for h in mergeable:  # only asked for with redeem.merge
            pairs = _min(h.shares)
            if pairs > 0 and not any(r["state"] in store.ACTIVE for r in store.for_condition(self.db, h.condition_id)):
                store.add(self.db, kind="merge", condition_id=h.condition_id, amount_units=store.units(pairs),
                          expected_usd=pairs, slug=h.slug, now=now)

    # ------------------------------------------------------------ one redemption: prepare, submit, follow

    def _prepare(self, row: dict) -> None:
        self.submitting = row["key"]
        self.started += 1
        self._job("prepare", row["key"], self.steps.prepare, row["condition_id"], urgent=True)

    def _prepare_done(self, key, result, error) -> None:
        row = store.get(self.db, key)
        if error is not None:
            self.submitting = ""
            return self._failed(row, str(error), count=NOT_CLOSED not in str(error))
        shares, pusd, nonce, gas = result
        target = self._target(row, shares)
        if target <= 0:
            self.submitting = ""
            return self._finish(row, Decimal(0), "nothing held: already redeemed", pusd)
        cfg = self.config.redeem
        if gas is not None and gas > cfg.eoa_max_gas_price_gwei:
            self.submitting = ""
            self.log.warning("redeem of {} deferred: gas {} gwei over {}", row["condition_id"][:14], gas,
                             cfg.eoa_max_gas_price_gwei)
            return
        if gas is not None and Decimal(row["expected_usd"]) < cfg.eoa_min_payout_usd:
            self.submitting = ""
            store.update(self.db, key, state="given_up", detail="payout below redeem.eoa_min_payout_usd: not worth the gas")
            return
        amount = store.units(target) if row["kind"] == "merge" else 0
        store.update(self.db, key, state="submitting", attempts=row["attempts"] + 1, nonce=nonce, pusd_before=pusd,
                     shares_before=shares, submitted_ts=self.clock())  # committed before it leaves
        self._job("submit", key, self.steps.submit, row["kind"], row["condition_id"], amount, urgent=True)

    def _submit_done(self, key, result, error) -> None:
        row = store.get(self.db, key)
        if isinstance(error, TemporaryError):  # maybe sent: the nonce will tell (recover)
            self.log.warning("submit of {} unanswered ({}); checking whether it left", key[:60], error)
            self._job("recover", key, self.steps.recover, row["condition_id"], urgent=True)
            return
        self.submitting = ""
        if error is not None:
            return self._failed(row, str(error), count=NOT_CLOSED not in str(error))
        store.update(self.db, key, state="submitted", tx_id=result.tx_id, tx_hash=result.tx_hash)
        self.log.info("{} of {} submitted: {}", row["kind"], row["slug"] or row["condition_id"][:14],
                      result.tx_id or result.tx_hash)
        self._follow_later(key)
        self._round_soon()

    def _recover_done(self, key, result, error) -> None:
        row = store.get(self.db, key)
        if error is not None:
            self.wakeupAfter(timedelta(seconds=CONNECT_RETRY_S), payload=(RECOVER, key))
            return
        shares, nonce = result
        target = self._target(row, shares)
        if target <= 0 or nonce > row["nonce"]:
            self.submitting = ""
            store.update(self.db, key, state="submitted")  # it left (or the position is gone): follow it
            self.log.warning("{} of {} was sent before the restart; following it by its balances", row["kind"], key[:60])
            self._follow(key)
        else:
            self.log.warning("{} of {} never left (nonce {}); submitting it now", row["kind"], key[:60], nonce)
            self._job("submit", key, self.steps.submit, row["kind"], row["condition_id"],
                      store.units(target) if row["kind"] == "merge" else 0, urgent=True)

    def _follow(self, key: str) -> None:
        row = store.get(self.db, key)
        if row is None or row["state"] != "submitted" or key in self.busy:
            return
        if row["tx_id"] or row["tx_hash"]:
            self._job("status", key, self.steps.status, Sent(row["tx_id"], row["tx_hash"]), urgent=True)
        else:  # sent before a crash, id unknown: the balances tell
            self._job("measure", key, self.steps.measure, row["condition_id"], urgent=True)

    def _follow_later(self, key: str) -> None:
        self.wakeupAfter(timedelta(milliseconds=self.config.redeem.poll_ms), payload=(FOLLOW, key))

    def _status_done(self, key, result, error) -> None:
        row = store.get(self.db, key)
        if error is not None:
            self._follow_later(key)
            return
        state, tx_hash, why = result
        if tx_hash and tx_hash != row["tx_hash"]:
            row = store.update(self.db, key, tx_hash=tx_hash)
        if state == DONE or (state == FAILED and PRECHECK in why):
            self._job("measure", key, self.steps.measure, row["condition_id"], urgent=True)
        elif state == FAILED:
            self._failed(row, why)
        else:
            self._pending_alert(row, self.clock())
            self._follow_later(key)

    def _measure_done(self, key, result, error) -> None:
        row = store.get(self.db, key)
        if error is not None:
            self._follow_later(key)
            return
        shares_after, pusd_after = result
        before = store.shares_of(row)
        payouts = store.payouts_of(row)
        if row["kind"] == "merge":
            target_before, target_after = _min(before), _min(shares_after)
        else:
            target_before, target_after = winning(before, payouts), winning(shares_after, payouts)
        buys, sells = trades_between(self.db, row["submitted_ts"], self.config.capital.fee_reserve_bps)
        v = judge(Decimal(row["expected_usd"]), target_before, target_after, Decimal(row["pusd_before"] or "0"),
                  pusd_after, buys, sells)
        if v.state == "done":
            self._finish(row, v.credited_usd, v.detail, pusd_after)
        elif v.state == "unpaid":
            store.update(self.db, key, state="given_up", pusd_after=pusd_after, detail=v.detail)
            self._alert("redeem_unpaid", f"{row['kind']} of {row['slug'] or key}: {v.detail}", key=key)
        elif row["tx_id"] or row["tx_hash"]:  # confirmed, yet the shares are there: the transaction did nothing
            self._failed(row, f"transaction confirmed but {v.detail}")
        else:  # sent before a crash: still waiting for it to land
            self._pending_alert(row, self.clock())
            self._follow_later(key)

    # ------------------------------------------------------------ endings

    def _finish(self, row: dict, credited: Decimal, detail: str, pusd_after) -> None:
        store.update(self.db, row["key"], state="done", credited_usd=credited, pusd_after=pusd_after, detail=detail,
                     done_ts=self.clock())
        self.log.info("{} of {} done: {} pUSD ({})", row["kind"], row["slug"] or row["condition_id"][:14], credited, detail)
        self.tell("ledger", Redeemed(condition_id=row["condition_id"], kind=row["kind"], state="done",
                                     credited_usd=credited, detail=detail))
        if credited > 0:
            self.tell("ledger", RefreshBalance(reason=f"{row['kind']} paid {credited}"))
        if row["key"] in self.alerted:
            self._alert("redeem_pending", f"{row['kind']} of {row['slug'] or row['key']} done", key=row["key"],
                        resolved=True)
        self._round_soon()

    def _failed(self, row: dict, why: str, count: bool = True) -> None:
        cfg, now = self.config.redeem, self.clock()
        attempts = row["attempts"] if count else max(0, row["attempts"] - (1 if row["state"] == "submitting" else 0))
        if count and attempts >= cfg.max_attempts:
            store.update(self.db, row["key"], state="given_up", detail=why[:300])
            self._alert("redeem_failed", f"{row['kind']} of {row['slug'] or row['key']} failed {attempts} times, "
                                         f"left to the operator: {why[:200]}", key=row["key"])
            return
        store.update(self.db, row["key"], state="failed", attempts=attempts, detail=why[:300],
                     retry_at_ts=now + (cfg.retry_after_s if count else cfg.interval_s))
        (self.log.warning if count else self.log.info)("{} of {} not done ({}); again later", row["kind"],
                                                       row["slug"] or row["key"][:60], why[:200])

    def _pending_alert(self, row: dict, now: float) -> None:
        since = row["submitted_ts"] or row["seen_ts"]
        if row["key"] not in self.alerted and now - since > self.config.redeem.pending_alert_s:
            self.alerted.add(row["key"])
            self._alert("redeem_pending", f"{row['kind']} of {row['slug'] or row['key']} pending for "
                                          f"{now - since:.0f}s (state {row['state']})", key=row["key"])

    # ------------------------------------------------------------ helpers

    def _target(self, row: dict, shares: dict) -> Decimal:
        return _min(shares) if row["kind"] == "merge" else winning(shares, store.payouts_of(row))

    def _ended(self) -> frozenset:
        """Markets that have ended (risk's exposure rows know each market's end): merge candidates."""
        now = self.clock()
        rows = self.db.query("SELECT DISTINCT condition_id FROM exposure WHERE end_ts > 0 AND end_ts < ?", [now]) \
            if "exposure" in self.db.table_names() else []
        return frozenset(r["condition_id"] for r in rows)

    def _round_soon(self) -> None:
        self.wakeupAfter(timedelta(milliseconds=50), payload=ONCE)

    def _alert(self, condition: str, text: str, resolved: bool = False, key: str = "") -> None:
        (self.log.info if resolved else self.log.warning)("alert {}: {}", condition, text)
        self.report(Alert(condition=condition, text=text, resolved=resolved, key=key[:80]))


def _min(shares: dict) -> Decimal:
    return min(shares.values()) if len(shares) >= 2 else Decimal(0)
