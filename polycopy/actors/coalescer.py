"""Coalescer: one per token (Init.key = token id). FillBatch in, CopyIntent out to risk.

The batches one wake-up brings are added as one (a burst that arrived together leads together),
and the intents one step emits leave as one message (`IntentBatch` when there are several).

The burst rules live in policy/coalesce.py; this actor feeds them fills and the clock, turns
their answers into messages and keeps one timer per due time (timers cannot be cancelled: a
timer whose work was already done finds nothing to do). The market's facts come with the fills
(intake routes a token's fills only once the catalog resolved its market); the newest batch's
`Market` sizes what follows and travels on in each intent.

`opening`: a BUY adds to our position on this token, a SELL reduces it. We never sell what we do
not hold (the venue refuses it), so side alone answers the question without tracking positions.
"""
from __future__ import annotations

import time
from datetime import timedelta

from polycopy.actors.base import ChildActor
from polycopy.messages import CopyIntent, FillBatch, Init, IntentBatch, RiskDecision, StageTiming
from polycopy.ops.console import event
from polycopy.policy.coalesce import BurstCoalescer, CoalesceParams, Drop, Emit, intent_id_for
from polycopy.policy.sizing import SizingParams

TIMER = "coalesce"


class Coalescer(ChildActor):
    role = "coalescer"
    clock = staticmethod(time.monotonic_ns)  # tests replace it with a fake clock

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.burst: BurstCoalescer | None = None
        self.scheduled: set[int] = set()  # due times (monotonic ns) with a timer on the way
        self.early: list = []  # fills that arrived before Init
        self.seen: set[str] = set()  # fill keys handled by this coalescer (one token: a few thousand at most)
        self.arrival: tuple = ()  # stage stamps of the FillBatch being handled (for StageTiming)
        self.market = None  # the token's Market, from the newest batch
        self.token_id = ""
        self.condition_id = ""

    def on_init(self, msg: Init) -> None:
        self.burst = BurstCoalescer(CoalesceParams.from_config(self.config), SizingParams.from_config(self.config))
        if self.early:
            fills, self.early = self.early, []
            self._add(fills)

    def on_reload(self) -> None:
        if self.burst is not None:
            self.burst.params = CoalesceParams.from_config(self.config)
            self.burst.sizing = SizingParams.from_config(self.config, self.market)

    def receiveBatch_FillBatch(self, msgs: list[FillBatch]):
        first = msgs[0]
        self.arrival = (("intake_sent", first.sent_ns), ("coalesce_in", time.monotonic_ns())) if first.sent_ns else ()
        fills = []
        for msg in msgs:
            mine = [f for f in msg.fills if (not self.key or f.token_id == self.key) and f.key not in self.seen]
            if len(mine) != len(msg.fills):
                self.log.error("{} fills for another token or seen before ignored", len(msg.fills) - len(mine))
            self.seen.update(f.key for f in mine)  # intake dedupes; this only guards against a resend
            fills += mine
            if msg.market is not None and msg.market != self.market:
                self.market = msg.market
                self.on_reload()
        if self.burst is None:
            self.early.extend(fills)
            return
        self._add(fills)
        self.arrival = ()

    def on_wakeup(self, payload) -> None:
        if isinstance(payload, tuple) and payload[0] == TIMER:
            self.arrival = ()  # a timer's emit belongs to no arriving batch
            self.scheduled.discard(payload[1])
            self._act(self.burst.tick(self.clock()))

    def on_exit(self) -> None:
        """Retired or stopped: whatever is gathered goes now; a timer that fires later finds nothing."""
        if self.burst is not None:
            self._act(self.burst.flush_all(), schedule=False)

    # ------------------------------------------------------------ internals

    def _add(self, fills) -> None:
        if fills:
            self.token_id = self.token_id or self.key or fills[0].token_id
            self.condition_id = self.condition_id or fills[0].condition_id
        self._act(self.burst.add(fills, self.clock()))

    def _act(self, actions, schedule: bool = True) -> None:
        intents = [self._intent(a) for a in actions if isinstance(a, Emit)]
        if intents:
            t_sent = time.monotonic_ns()
            self.tell("risk", intents[0] if len(intents) == 1 else IntentBatch(intents=tuple(intents)))
            for it in intents:
                n = len(it.fill_keys)
                self.log.bind(**event("intent", market=self.market, token_id=self.token_id, side=it.side, size=it.size,
                                      price=it.source_price, outcome=it.reason, detail=f"{n} fill{'s' * (n != 1)}")).info(
                    "{} intent {} {} {} @ {} covers {} fills (first {})", it.reason, it.intent_id, it.side, it.size,
                    it.source_price, n, it.fill_keys[0])
                self.report(StageTiming(key=it.fill_keys[0], stages=(*self.arrival, ("coalesced", t_sent)),
                                        source_ts_ms=it.source_ts_ms))
        for a in actions:
            if isinstance(a, Drop):
                self._report_drop(a)
        if schedule:
            self._schedule()

    def _intent(self, a: Emit) -> CopyIntent:
        pc = a.piece
        return CopyIntent(
            intent_id=intent_id_for(pc.fill_keys), token_id=self.token_id, condition_id=self.condition_id, side=pc.side,
            size=a.size, source_price=pc.source_price, source_size=pc.source_size, fill_keys=pc.fill_keys,
            first_recv_mono_ns=pc.first_recv_ns, source_ts_ms=pc.source_ts_ms, reason=a.reason,
            opening=pc.side == "BUY", market=self.market,
        )

    def _report_drop(self, a: Drop) -> None:
        pc = a.piece
        iid = intent_id_for(pc.fill_keys)
        self.log.bind(**event("intent", market=self.market, token_id=self.token_id, side=pc.side, size=pc.source_size,
                              price=pc.source_price, outcome="dropped", reason=a.reason)).info(
            "dropped {} fills (first {}): {} (net {} {} -> {} shares)", len(pc.fill_keys), pc.fill_keys[0], a.reason,
            pc.side, pc.source_size, a.size)
        notice = RiskDecision(intent_id=iid, decision="dropped", reason=a.reason, size=a.size,
                              source_size=pc.source_size)
        if "risk" in self.peers:  # risk records every verdict; telemetry counts it
            self.send(self.peers["risk"], notice)
        self.report(notice)

    def _schedule(self) -> None:
        due = self.burst.next_due_ns()
        if due is None or due in self.scheduled:
            return
        self.scheduled.add(due)
        delay_us = max(0, -(-(due - self.clock()) // 1000))  # round up: never wake before it is due
        self.wakeupAfter(timedelta(microseconds=delay_us), payload=(TIMER, due))
