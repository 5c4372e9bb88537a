"""Risk: the only owner of exposure. CopyIntent in; ApprovedIntent to the executor or a
rejection; every verdict goes to the log and as a RiskDecision to telemetry.

An approval reserves its notional in the ledger (store/exposure.py, committed before the
ApprovedIntent is sent); the executor's OrderOutcome settles it. The rules are in
policy/risk.py; limits follow ReloadConfig.

A wake-up's intents (CopyIntents and IntentBatches from any coalescer, base.py) are decided in
order against the book, each seeing the reservations before it; their reservations are committed
in one transaction, then the approvals leave as one message (`ApprovedBatch` when several), then
the verdicts are recorded in one more. A wake-up's outcomes are settled in one commit.
"""
from __future__ import annotations

import time

from polycopy.actors.base import ChildActor
from polycopy.messages import (ApprovedBatch, ApprovedIntent, CopyIntent, Init, IntentBatch, OrderOutcome,
                               RiskDecision, StageTiming)
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

    def on_init(self, msg: Init) -> None:
        self.db = open_db(self.config.store.path, self.config.store.synchronous)
        now = self.clock()
        self.book = exposure.load_book(self.db, utc_day(now), now)
        self.limits = Limits.from_config(self.config)
        self.log.info("exposure loaded: {} entries, today {:.4f} USD", len(self.book.entries), self.book.daily.get(utc_day(now), 0))

    def on_reload(self) -> None:
        self.limits = Limits.from_config(self.config)
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
            decided.append((msg, d))
        try:
            exposure.save_entries(self.db, entries)  # committed before any of these orders can exist
        except Exception:
            self._reload_book()  # none of them was committed: the book holds what was
            raise
        t_out = time.monotonic_ns()
        approved = [ApprovedIntent(intent=msg, size=d.size, max_notional_usd=d.notional_usd, decision=d.decision,
                                   reason=d.reason) for msg, d in decided if d.approved]
        if approved:
            self.tell("executor", approved[0] if len(approved) == 1 else ApprovedBatch(items=tuple(approved)))
        verdicts = []
        for msg, d in decided:
            self._report(msg, d, (("risk_in", t_in), ("risk", t_out)))
            recv_ms = (time.monotonic_ns() - msg.first_recv_mono_ns) / 1e6 if msg.first_recv_mono_ns else -1.0
            verdicts.append((msg, d.decision, d.reason, d.size, d.notional_usd, recv_ms))
        exposure.save_decisions(self.db, verdicts)  # after the send

    receiveBatch_IntentBatch = receiveBatch_CopyIntent

    def _decide(self, msg: CopyIntent) -> Decision:
        if "executor" not in self.peers:
            return Decision("rejected", "executor_unavailable")
        return decide(msg, self.clock(), self.limits, self.book, self.kill_tripped, self.entries_paused)

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

    def on_exit(self) -> None:
        if self.db is not None:
            self.db.conn.close()
            self.db = None

    def _report(self, msg: CopyIntent, d: Decision, stamps: tuple) -> None:
        corr = msg.fill_keys[0] if msg.fill_keys else msg.intent_id
        self.log.info("intent {} ({}) {}: {} {} of {} shares, {:.4f} USD reserved", msg.intent_id, corr, d.decision,
                      d.reason, d.size, msg.size, d.notional_usd)
        self.report(RiskDecision(intent_id=msg.intent_id, decision=d.decision, reason=d.reason, size=d.size,
                                 source_size=msg.source_size))
        self.report(StageTiming(key=corr, stages=(("recv", msg.first_recv_mono_ns), *stamps), source_ts_ms=msg.source_ts_ms))
