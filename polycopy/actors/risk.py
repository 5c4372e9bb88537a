"""Risk: the only owner of exposure. CopyIntent in; ApprovedIntent to the executor or a
rejection; every verdict goes to the log and as a RiskDecision to telemetry.

An approval reserves its notional in the ledger (store/exposure.py, committed before the
ApprovedIntent is sent); the executor's OrderOutcome settles it. The rules are in
policy/risk.py; limits follow ReloadConfig. The pUSD balance (policy/balance.py) comes from the
ledger's and the redeemer's reads (`BalanceSeen`); a BUY it cannot pay for is refused with
`insufficient_balance`, and an alert says so while it lasts.

A wake-up's intents (CopyIntents and IntentBatches from any coalescer, base.py) are decided in
order against the book and the balance, each seeing the reservations before it; their
reservations are committed in one transaction, then the approvals leave as one message
(`ApprovedBatch` when several), then the verdicts are recorded in one more. A wake-up's outcomes
are settled in one commit.
"""
from __future__ import annotations

import time

from polycopy.actors.base import ChildActor
from polycopy.messages import (Alert, ApprovedBatch, ApprovedIntent, BalanceSeen, CopyIntent, Init, IntentBatch,
                               OrderOutcome, RiskDecision, StageTiming)
from polycopy.ops.console import event
from polycopy.policy.balance import ZERO, BalanceBook
from polycopy.policy.risk import SETTLED, Decision, Limits, decide, entry_for, utc_day
from polycopy.store import exposure
from polycopy.store.db import open_db


class Risk(ChildActor):
    role = "risk"
    clock = staticmethod(time.time)  # wall clock (market ends, UTC days); tests replace it

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.db = None
        self.book = None
        self.limits: Limits | None = None
        self.balance = BalanceBook()
        self.balance_blocked = False  # an insufficient_balance refusal is the latest word on BUYs

    def on_init(self, msg: Init) -> None:
        self.db = open_db(self.config.store.path, self.config.store.synchronous)
        now = self.clock()
        self.book = exposure.load_book(self.db, utc_day(now), now)
        self.limits = Limits.from_config(self.config)
        self.balance = BalanceBook(self.config.capital.fee_reserve_bps)
        for e in self.book.entries.values():  # open BUYs from before a restart still hold their pUSD
            if e.side == "BUY" and e.state != SETTLED:
                self.balance.reserve(e.intent_id, e.counted())
        self.log.info("exposure loaded: {} entries, today {:.4f} USD", len(self.book.entries), self.book.daily.get(utc_day(now), 0))

    def on_reload(self) -> None:
        self.limits = Limits.from_config(self.config)
        self.balance.fee_reserve_bps = self.config.capital.fee_reserve_bps
        self.log.info("risk limits reloaded")

    def receiveBatch_CopyIntent(self, msgs: list) -> None:
        t_in = time.monotonic_ns()
        intents = [i for m in msgs for i in (m.intents if isinstance(m, IntentBatch) else (m,))]
        decided, entries = [], []
        for msg in intents:
            try:
                d = self._decide(msg)
            except Exception as e:  # noqa: BLE001 - one bad intent costs only itself (base.py's rule)
                self.handler_failed(msg, e)
                continue
            if d.approved:
                entries.append(entry_for(msg, d))
                self.book.add(entries[-1])  # the next intent of the batch sees this reservation
                if msg.side == "BUY":
                    self.balance.reserve(msg.intent_id, d.notional_usd)
            decided.append((msg, d))
        try:
            exposure.save_entries(self.db, entries)  # committed before any of these orders can exist
        except Exception:
            for e in entries:  # none of them was committed: the book and the balance hold what was
                self.balance.settle(e.intent_id, "not_sent", ZERO, time.monotonic_ns())
            self._reload_book()
            raise
        t_out = time.monotonic_ns()
        approved = [ApprovedIntent(intent=msg, size=d.size, max_notional_usd=d.notional_usd, decision=d.decision,
                                   reason=d.reason) for msg, d in decided if d.approved]
        if approved:
            self.tell("executor", approved[0] if len(approved) == 1 else ApprovedBatch(items=tuple(approved)))
        verdicts = []
        for msg, d in decided:
            self._report(msg, d, (("risk_in", t_in), ("risk", t_out)))
            if msg.side == "BUY":
                self._balance_alert(d)
            recv_ms = (time.monotonic_ns() - msg.first_recv_mono_ns) / 1e6 if msg.first_recv_mono_ns else -1.0
            verdicts.append((msg, d.decision, d.reason, d.size, d.notional_usd, recv_ms))
        exposure.save_decisions(self.db, verdicts)  # after the send

    receiveBatch_IntentBatch = receiveBatch_CopyIntent

    def _decide(self, msg: CopyIntent) -> Decision:
        if "executor" not in self.peers:
            return Decision("rejected", "executor_unavailable")
        return decide(msg, self.clock(), self.limits, self.book, self.kill_tripped, self.entries_paused,
                      self.balance.room())

    def receiveMsg_RiskDecision(self, msg: RiskDecision, sender):
        """A coalescer's drop, kept with the verdicts so that runs can be compared."""
        if msg.decision == "dropped":
            exposure.save_dropped(self.db, msg.intent_id, msg.reason, msg.size)

    def receiveBatch_OrderOutcome(self, msgs: list[OrderOutcome]) -> None:
        settled = []
        for msg in msgs:
            before = self.book.entries.get(msg.intent_id)
            if before is not None and before.state == SETTLED:
                # filled/partial/rejected are final in the executor's contract; record the truth, loudly
                self.log.warning("outcome {} for intent {} after it was settled; recording {} USD filled", msg.status,
                                 msg.intent_id, msg.filled_notional_usd)
            entry = self.book.settle(msg.intent_id, msg.status, msg.filled_notional_usd)
            self.balance.settle(msg.intent_id, msg.status, msg.filled_notional_usd, time.monotonic_ns())
            if entry is None:
                self.log.warning("outcome {} for unknown intent {}", msg.status, msg.intent_id)
                continue
            settled.append(entry)
            self.log.info("intent {} settled {}: filled {:.4f} USD of {:.4f} reserved", msg.intent_id, msg.status,
                          msg.filled_notional_usd, entry.reserved_usd)
        exposure.save_entries(self.db, settled)

    def _reload_book(self) -> None:
        try:
            self.book = exposure.load_book(self.db, utc_day(self.clock()), self.clock())
        except Exception as e:  # noqa: BLE001 - the book in memory then over-counts: no cap can be passed
            self.log.error("exposure book not reloaded ({}); it counts uncommitted reservations", e)

    def receiveMsg_BalanceSeen(self, msg: BalanceSeen, sender):
        if self.balance.seen(msg.balance_usd, msg.asked_mono_ns, msg.allowance_usd):
            self.log.debug("balance {} pUSD from {}; available {}", msg.balance_usd, msg.source, self.balance.available())

    def _balance_alert(self, d: Decision) -> None:
        """Raised once when BUYs start being refused for the balance, resolved by the next BUY approved."""
        blocked = d.reason == "insufficient_balance" and not d.approved
        if blocked != self.balance_blocked:
            self.balance_blocked = blocked
            avail = self.balance.available()
            text = (f"trading blocked for balance: {avail:.2f} pUSD available for new BUYs (redemptions or a "
                    "deposit free more)" if blocked else "BUYs approved again: the balance covers them")
            self.report(Alert(condition="balance_blocked", text=text, resolved=not blocked))

    def on_exit(self) -> None:
        if self.db is not None:
            self.db.conn.close()
            self.db = None

    def _report(self, msg: CopyIntent, d: Decision, stamps: tuple) -> None:
        corr = msg.fill_keys[0] if msg.fill_keys else msg.intent_id
        self.log.bind(**event("risk", market=msg.market, token_id=msg.token_id, side=msg.side, size=d.size or msg.size,
                              price=msg.source_price, outcome=d.decision, reason="" if d.reason == "ok" else d.reason,
                              detail=f"{d.notional_usd:.2f} USD reserved" if d.notional_usd else "")).info(
            "intent {} ({}) {}: {} {} of {} shares, {:.4f} USD reserved", msg.intent_id, corr, d.decision, d.reason,
            d.size, msg.size, d.notional_usd)
        self.report(RiskDecision(intent_id=msg.intent_id, decision=d.decision, reason=d.reason, size=d.size,
                                 source_size=msg.source_size))
        self.report(StageTiming(key=corr, stages=(("recv", msg.first_recv_mono_ns), *stamps), source_ts_ms=msg.source_ts_ms))
