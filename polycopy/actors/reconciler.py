"""Reconciler: every `reconcile_interval_s`, the source's positions × the sizing policy against
ours, and bounded corrective CopyIntents (reason "reconcile") to risk where they drift apart.

A round gathers, on the I/O thread (io_jobs.py): the source's /positions and /activity, ours
(Data API for our wallet in live mode; otherwise a PositionsSnapshot answered by the executor),
and mid prices for tokens the source no longer lists. policy/reconcile.py decides per token;
risk still enforces every cap. Never touched: resolved or closed markets, markets inside the
near-expiry cutoff, tokens either side traded in the last `settle_s` (the copy path is on
them), tokens with a correction in flight, and the side of a token whose copy the venue or risk
refused for a standing reason (store/refusals.py: region, balance, market state or rules) — a
refused copy is not a missed fill. Every correction and skip is logged and counted with its
cause ("skip:refused:<reason>" names the refusals left alone). In dry_run nothing fills, so
drifts are only logged.

Long because a round gathers four inputs asynchronously (the source's positions and activity,
ours, prices, the catalog's markets) before the pure rules (policy/reconcile.py) decide.
"""
from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from polycopy import bootstrap
from polycopy.actors.base import ChildActor
from polycopy.actors.io_jobs import JobsActor
from polycopy.config.models import Mode
from polycopy.messages import CopyIntent, Market, NeedMarketFacts, PositionsReply, PositionsSnapshot, ReconcileStats
from polycopy.policy.reconcile import Correction, Params, Skip, plan
from polycopy.policy.reconcile_memory import Memory, last_trades
from polycopy.store import fills as fills_store
from polycopy.store import positions as store
from polycopy.store.refusals import standing_refusals
from polycopy.store.db import open_db

ROUND, FACTS_WAIT = "reconcile-round", "reconcile-facts-wait"
FACTS_WAIT_S = 3.0  # a round waits this long for the facts of markets new to us
FIRST_ROUND_S = 2.0
REFUSALS_KEPT_S = 86_400  # a standing refusal explains a token's drift for this long
ZERO = Decimal(0)


@dataclass
class Round:
    n: int
    started: float  # wall clock
    source: list | None = None  # [Position]
    activity: list | None = None  # [Activity]
    ours: dict | None = None  # token -> shares
    prices: dict = field(default_factory=dict)  # token -> mid
    priced: bool = False
    waiting: set | None = None  # tokens whose market facts the round waits for


class Reconciler(JobsActor, ChildActor):
    role = "reconciler"
    clock = staticmethod(time.time)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.jobs = None
        self.client = None
        self.db = None
        self.round: Round | None = None
        self.n = 0
        self.markets: dict[str, Market] = {}
        self.memory = Memory()
        self.asked_slugs: set[str] = set()
        self.asked_facts: set[str] = set()
        self.counts: Counter = Counter()  # "correction:<cause>" / "skip:<reason>"
        self.our_wallet = ""
        self.round_timer = False  # a ROUND wakeup is on its way

    def make_client(self):
        """The Data API's positions and activity, from the composition root (tests hand a fake in here)."""
        return bootstrap.positions_client(self.config)

    # ------------------------------------------------------------ lifecycle

    def on_init(self, msg) -> None:
        if not self.config.reconcile.enabled:
            self.log.info("reconciliation disabled by config")
            return
        self._start()

    def on_reload(self) -> None:
        if self.config.reconcile.enabled and self.jobs is None:
            self.log.info("reconciliation enabled by a config reload")
            self._start()
        elif not self.config.reconcile.enabled and self.jobs is not None:
            self.log.info("reconciliation disabled by a config reload")
            self.on_exit()
            self.round = None

    def _start(self) -> None:
        self.client = self.make_client()
        self.db = open_db(self.config.store.path, self.config.store.synchronous)
        self.memory.baseline, self.memory.tracked = store.load_tokens(self.db)
        if self.config.execution.mode is Mode.live:
            self.our_wallet = self._live_wallet()
        self.start_jobs("reconciler-io")
        if not self.round_timer:  # a re-enable within an interval keeps the timer already running
            self.round_timer = True
            self.wakeupAfter(timedelta(seconds=min(FIRST_ROUND_S, self.config.reconcile.reconcile_interval_s)),
                             payload=ROUND)

    def _live_wallet(self) -> str:
        return bootstrap.our_wallet(self.config)

    def on_exit(self) -> None:
        super().on_exit()  # the job thread and the database
        if self.client is not None:
            self.client.close()
            self.client = None

    # ------------------------------------------------------------ a round

    def on_wakeup(self, payload) -> None:
        if isinstance(payload, tuple) and payload[0] == FACTS_WAIT:
            if self.round is not None and self.round.n == payload[1] and self.round.waiting:
                self.log.warning("no market facts for {} tokens yet; reconciling without them", len(self.round.waiting))
                self.round.waiting = set()
                self._advance()
            return
        if payload != ROUND:
            return
        self.round_timer = False
        if self.jobs is None:
            return
        self.round_timer = True
        self.wakeupAfter(timedelta(seconds=self.config.reconcile.reconcile_interval_s), payload=ROUND)
        if self.round is not None:
            self.log.warning("reconcile round {} did not complete in an interval; abandoned", self.round.n)
            self.counts["round_abandoned"] += 1
            self.round = None
        if self.jobs.queued:
            self.log.warning("the Data API is slower than the reconcile interval; round skipped")
            return
        rc = self.config.reconcile
        self.n += 1
        self.round = Round(self.n, self.clock())
        since = int(self.round.started - 2 * rc.reconcile_interval_s - rc.settle_s - 60)  # TRADE rows for settle_s
        self.jobs.submit(("source", self.n), self._fetch_source, self.config.copy.source_wallet, since)
        if self.our_wallet:
            self.jobs.submit(("ours", self.n), self.client.positions, self.our_wallet)
        elif not self.tell("executor", PositionsSnapshot(request_id=str(self.n))):
            self.round = None

    def _fetch_source(self, wallet: str, since: int):
        return self.client.positions(wallet), self.client.activity(wallet, since)

    def receiveMsg_PositionsReply(self, msg: PositionsReply, sender):
        r = self.round
        if r is None or msg.request_id != str(r.n):
            return
        if not msg.complete:
            self.log.info("executor positions not complete yet; round {} skipped", r.n)
            self.round = None
            return
        r.ours = {str(t): Decimal(s) for t, s in msg.positions}
        self._advance()

    def receiveMsg_WatchMessage(self, msg, sender):
        if self.jobs is None:
            return
        for (kind, n), result, error in self.jobs.drain():
            r = self.round
            if r is None or n != r.n:
                continue
            if error is not None:
                self.log.warning("reconcile round {}: {} data unavailable ({}: {})", n, kind, type(error).__name__,
                                 error)
                self.counts["round_failed"] += 1
                self.round = None
                continue
            if kind == "source":
                r.source, r.activity = result
            elif kind == "ours":
                r.ours = {p.token_id: p.size for p in result}
            elif kind == "prices":
                r.prices, r.priced = result, True
            self._advance()

    def _advance(self) -> None:
        r = self.round
        if r is None or r.source is None or r.ours is None:
            return
        listed = {p.token_id for p in r.source}
        unpriced = sorted(t for t, s in r.ours.items() if s > 0 and t not in listed)
        if unpriced and not r.priced:
            r.priced = True
            self.jobs.submit(("prices", r.n), self.client.midpoints, self.config.venue.clob_url, unpriced)
            return
        if r.waiting is None:  # first time here: ask the catalog about markets new to us, once
            source = {p.token_id: p for p in r.source}
            p = Params.from_config(self.config)
            r.waiting = {t for t in set(source) | {t for t, s in r.ours.items() if s > 0}
                         if t not in self.markets and t not in self.asked_facts
                         and self.memory.may_act(t, source.get(t), r.ours.get(t, ZERO), p)}
            slugs = {p.token_id: (p.condition_id, p.slug) for p in r.source}
            for t in sorted(r.waiting):
                self.asked_facts.add(t)
                cid, slug = slugs.get(t, ("", ""))
                self.tell("catalog", NeedMarketFacts(key=t, condition_id=cid, slug=slug))
            if r.waiting and "catalog" in self.peers:
                self.wakeupAfter(timedelta(seconds=FACTS_WAIT_S), payload=(FACTS_WAIT, r.n))
                return
            r.waiting = set()
        if r.waiting:
            return
        self.round = None
        self.reconcile(r)

    # ------------------------------------------------------------ deciding

    def reconcile(self, r: Round) -> None:
        now, mem, p = self.clock(), self.memory, Params.from_config(self.config)
        source = {pos.token_id: pos for pos in r.source}
        if mem.take_baseline({t: pos.size for t, pos in source.items()}):
            store.save_baseline(self.db, mem.baseline)
        tracked_before = set(mem.tracked)
        self._note_activity(r.activity)
        trades = last_trades(r.activity)
        observe_only = self.config.execution.mode is Mode.dry_run
        tokens = sorted(set(source) | {t for t, s in r.ours.items() if s > 0})
        refused = standing_refusals(self.db, now - REFUSALS_KEPT_S)
        for token, ts in fills_store.last_seen_s(self.db, tokens).items():  # our feeds see a trade before the Data API
            trades[token] = max(trades.get(token, 0), ts)
        done = Counter()
        for token in tokens:
            pos = source.get(token)
            price = pos.cur_price if pos is not None else r.prices.get(token, ZERO)
            view = mem.view(token, pos, r.ours.get(token, ZERO), price, self.markets.get(token), trades.get(token, 0),
                            now, p, {side: why for (t, side), why in refused.items() if t == token})
            out = plan(view, now, p)
            if out is None:
                continue
            if isinstance(out, Skip):
                done[f"skip:{out.reason}"] += 1
                self.log.info("reconcile: {} off by {} shares left alone: {}", token[:16], out.drift, out.reason)
                continue
            done[f"correction:{out.cause}"] += 1
            if observe_only:
                self.log.info("reconcile (dry run, not sent): {} {} {} ({}): source {} ours {} target {}", out.side,
                              out.size, token[:16], out.cause, out.source, out.ours, out.target)
            elif self._send(out, r.n, now):
                mem.corrected(out, now, p)
        if mem.tracked - tracked_before:
            store.save_tracked(self.db, sorted(mem.tracked - tracked_before))
        mem.last_ours = dict(r.ours)
        self.counts.update(done)
        self.log.info("reconcile round {}: {} tokens, {}", r.n, len(tokens), dict(done) or "all in line")
        self.report(ReconcileStats(rounds=r.n, counts=tuple(sorted(self.counts.items()))))

    def _note_activity(self, acts) -> None:
        tokens_of = {f.condition_id: f.token_ids for f in self.markets.values()}
        changes, unknown = self.memory.note_activity(acts, tokens_of)
        for c in changes:
            self.counts[f"activity:{c.cause}"] += 1
            self.log.info("source {} changes {} by {}", c.cause, c.token_id[:16], "all" if c.delta is None else c.delta)
        for a in unknown:
            if a.slug and a.slug not in self.asked_slugs:
                self.asked_slugs.add(a.slug)
                self.log.warning("source {} on a market we have no facts for ({}); asking the catalog", a.type, a.slug)
                self.tell("catalog", NeedMarketFacts(key="", condition_id=a.condition_id, slug=a.slug))

    def _send(self, c: Correction, n: int, now: float) -> bool:
        iid = hashlib.sha256(f"reconcile|{c.token_id}|{n}|{int(now)}|{c.side}|{c.size}".encode()).hexdigest()[:32]
        intent = CopyIntent(
            intent_id=iid, token_id=c.token_id, condition_id=c.condition_id, side=c.side, size=c.size,
            source_price=c.price, source_size=abs(c.target - c.ours), fill_keys=(),
            first_recv_mono_ns=time.monotonic_ns(), source_ts_ms=int(now * 1000), reason="reconcile",
            opening=c.opening, market=self.markets.get(c.token_id),
        )
        if not self.tell("risk", intent):
            return False
        self.log.info("reconcile intent {}: {} {} of {} ({}): source {} ours {} target {}", iid, c.side, c.size,
                      c.token_id[:16], c.cause, c.source, c.ours, c.target)
        return True

    # ------------------------------------------------------------ facts

    def receiveMsg_Market(self, msg: Market, sender):
        for t in msg.token_ids:
            self.markets[str(t)] = msg
        r = self.round
        if r is not None and r.waiting:
            r.waiting.difference_update(str(t) for t in msg.token_ids)
            if not r.waiting:
                self._advance()

