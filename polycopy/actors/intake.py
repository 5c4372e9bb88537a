"""Intake: deduplicates source fills across feeds and restarts, persists them, then routes them.

A fill is new exactly once: its key (tx|token|side|price|size|occurrence, see
wire/source_fill.py) is checked against memory, then inserted into SQLite (`INSERT OR IGNORE`,
the primary key decides) before anything is sent. A repeated occurrence that only RTDS reported
is stored `unconfirmed` and copied once the backstop lists it (policy/dedupe.py: a frame
delivered twice is one fill). New fills go per token to their coalescer with the token's
market (intake_router.py).

At start the keys of the last RETAIN_H hours are loaded: no fill seen before a restart is
routed again. Fills that happened before the start and are older than
`copy.max_fill_age_at_start_s` when they arrive are recorded with status "stale", not copied.
Buffered fills found at start are routed if still young enough. If the database refuses a
write, the fills are kept and tried again a second later (nothing is routed unstored).

Mempool fills (provisional, keyed by order hash and fill) go through intake_pending.py: copied
at once or held, matched to the settled rows of RTDS/backstop (a trade is copied once), checked
every second for the confirm timeout; a copied one that fails raises an Alert and, with
`pending_revert_policy: unwind`, an opposite fill `unwind|<key>` is routed. Open provisional
fills are reloaded at start.

Long because deduplication, persistence and the mempool path's confirmations are decided together,
in one database transaction per batch; routing, feed statistics and the mempool bookkeeping are
in intake_router.py, intake_stats.py and intake_pending.py.
"""
from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from datetime import timedelta

from polycopy.actors.base import ChildActor
from polycopy.actors.intake_pending import PendingRouter
from polycopy.actors.intake_router import ENSURE_EVERY_S, Router
from polycopy.actors.intake_stats import FeedCounters
from polycopy.clients.feed import RateLimitedLog
from polycopy.messages import Alert, FillBatch, Market, StageTiming
from polycopy.policy.dedupe import corroborates, needs_corroboration
from polycopy.policy.fills import implausible
from polycopy.store import fills as store
from polycopy.store.db import open_db

RETAIN_H = 48
STATS = "intake-stats"
ENSURE = "intake-ensure"
RETRY = "intake-retry"
PENDING = "intake-pending"
FACTS_WAIT = "intake-facts-wait"
PENDING_EVERY_S = 1.0
TO_COPY = ("routed", "buffered", "provisional")
RETRY_S = 1.0
STATS_EVERY_S = 10.0


class Intake(ChildActor):
    role = "intake"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.db = None
        self.seen: dict[str, int] = {}  # key -> source_ts_ms
        self.unconfirmed: dict = {}  # key -> SourceFill: a repeat only RTDS reported (policy/dedupe.py)
        self.router: Router | None = None
        self.counters: dict[str, FeedCounters] = defaultdict(FeedCounters)
        self.started_ms = 0
        self._ensure_armed = False
        self.retry: list = []  # fills the database refused; tried again after RETRY_S
        self.mempool: PendingRouter | None = None
        self._pending_armed = False
        self._counts_logged: dict = {}
        self.logs = RateLimitedLog(60.0)  # one line per kind of implausible fill a minute

    # ------------------------------------------------------------ start

    def on_init(self, msg) -> None:
        self.started_ms = _now_ms()
        self.db = open_db(self.config.store.path, self.config.store.synchronous)
        store.ensure(self.db)
        self.router = Router(self, self.config.copy.market_facts_wait_ms / 1000)
        since = self.started_ms - RETAIN_H * 3_600_000
        self.seen = store.load_keys(self.db, since)
        self.unconfirmed = {f.key: f for f in store.load_with_status(self.db, "unconfirmed", since)}
        waiting = store.load_with_status(self.db, "buffered",
                                         self.started_ms - self.config.copy.max_fill_age_at_start_s * 1000)
        self.mempool = PendingRouter(self.config.copy.mempool_confirm_timeout_s)
        self._reload_pending()
        stale = [f.key for f in waiting if f.provisional and not self.mempool.is_open(f.key)]
        store.set_status(self.db, stale, "stale")  # past the confirm timeout: the settled rows are copied instead
        waiting = [f for f in waiting if f.key not in set(stale)]
        self.log.info("intake: {} known fills loaded ({} unconfirmed repeats), {} buffered to route, "
                      "{} provisional open", len(self.seen), len(self.unconfirmed), len(waiting),
                      len(self.mempool.pending.open))
        self._route(waiting)
        self.wakeupAfter(timedelta(seconds=STATS_EVERY_S), payload=STATS)

    # ------------------------------------------------------------ fills

    def receiveBatch_FillBatch(self, msgs: list[FillBatch]) -> None:
        """The watchers' batches of one wake-up: deduplicated and stored in one transaction."""
        arrival = (("watcher", msgs[0].sent_ns), ("intake_in", time.monotonic_ns()))
        self._accept([f for m in msgs for f in m.fills], tuple(s for s in arrival if s[1]))

    def _accept(self, fills: list, arrival: tuple = ()) -> None:
        fills = self._plausible(fills)
        new_here: dict = {}  # key -> the delivery that stands for it in this batch
        confirmed: dict = {}  # key -> the authoritative delivery of a stored unconfirmed repeat
        for f in fills:
            if f.key in self.unconfirmed and corroborates(f) and f.key not in confirmed:
                confirmed[f.key] = f
            elif f.key in new_here and corroborates(f) and not corroborates(new_here[f.key]):
                new_here[f.key] = f  # RTDS and the backstop in one drain: the backstop's delivery counts
            elif f.key in self.seen or f.key in new_here or f.key in confirmed:
                self.counters[f.feed].duplicates += 1
                if f.provisional:
                    self.mempool.retry_seen(f)  # another tx hash of the same settlement
            else:
                new_here[f.key] = f
        fresh, confirmed = list(new_here.values()), list(confirmed.values())
        if not fresh and not confirmed:
            return
        saved = self.mempool.snapshot()
        status, links = {}, {}
        for f in fresh:
            status[f.key] = self._status(f)
            if status[f.key] != "stale":
                self._classify(f, status, links)
        try:
            new = store.save_new_fills(self.db, fresh, status, links)  # persisted before routed
            for f in confirmed:
                status[f.key] = self._status(f)
            store.set_statuses(self.db, {f.key: status[f.key] for f in confirmed})
        except sqlite3.Error as e:
            self.mempool.restore(saved)
            self.log.error("intake: cannot store {} fills ({}); retrying in {}s", len(fresh) + len(confirmed), e, RETRY_S)
            if not self.retry:
                self.wakeupAfter(timedelta(seconds=RETRY_S), payload=RETRY)
            self.retry.extend(fresh + [f for f in fills if f.key in {c.key for c in confirmed}])
            return
        new_keys = {f.key for f in new}
        for f in fresh:
            if f.key not in new_keys:  # known on disk only (older than what memory keeps)
                self.counters[f.feed].duplicates += 1
        for f in new:
            self.seen[f.key] = f.source_ts_ms
            self._count_new(f, status[f.key])
            if status[f.key] == "unconfirmed":
                self.unconfirmed[f.key] = f
        for f in confirmed:
            del self.unconfirmed[f.key]
            self.log.info("intake: repeat {} confirmed by the backstop; copying it", f.key[:60])
        done = [k for k in set(links.values()) if self.mempool.closed(k)]
        store.set_status(self.db, done, "confirmed")
        to_copy = [f for f in new + confirmed if status[f.key] in TO_COPY]
        self._route(to_copy)
        if any(f.provisional for f in new):
            self._arm_pending()
        # One timing per token and batch (its first fill, the usual correlation id of the leading order).
        intake_ns, first = time.monotonic_ns(), {}
        for f in to_copy:
            first.setdefault(f.token_id, f)
        for f in first.values():
            self.report(StageTiming(key=f.key, stages=(("recv", f.recv_mono_ns), *arrival, ("intake", intake_ns)),
                                    source_ts_ms=f.source_ts_ms))

    def _plausible(self, fills: list) -> list:
        now, out = _now_ms(), []
        for f in fills:
            why = implausible(f, now)
            if why is None:
                out.append(f)
                continue
            self.counters[f.feed].invalid += 1
            self.logs.warn(self.log, why, "intake: a {} fill with an implausible {} was dropped ({})", f.feed, why,
                           str(f.key)[:80])
        return out

    def _status(self, f) -> str:
        now = _now_ms()
        if f.source_ts_ms < self.started_ms and now - f.source_ts_ms > self.config.copy.max_fill_age_at_start_s * 1000:
            return "stale"
        if needs_corroboration(f) and f.key not in self.unconfirmed:
            return "unconfirmed"
        return "routed" if self.router.routable(f.token_id) else "buffered"

    def _classify(self, f, status: dict, links: dict) -> None:
        """The mempool path's say on a fill new by key (status "routed" or "buffered" so far)."""
        if status[f.key] == "unconfirmed":
            return
        if f.provisional:
            verdict = self.mempool.on_provisional(f, self.config.copy.copy_pending_fills)
            if verdict != "provisional" or status[f.key] != "buffered":
                status[f.key] = verdict
            return
        k, copied = self.mempool.on_settled(f)
        if k is not None:
            links[f.key] = k
            if copied:
                status[f.key] = "linked"  # the trade was copied from the mempool already

    def _count_new(self, f, status: str) -> None:
        c = self.counters[f.feed]
        if status in ("linked", "confirmed"):  # the same trade came first from another feed
            c.duplicates += 1
            return
        if status == "unconfirmed":
            c.unconfirmed += 1
            return
        c.first_seen += 1
        c.stale += status == "stale"
        recv_wall_ms = time.time() * 1000 - (time.monotonic_ns() - f.recv_mono_ns) / 1e6
        c.lag_source.append(recv_wall_ms - f.source_ts_ms)
        if f.envelope_ts_ms:
            c.lag_envelope.append(recv_wall_ms - f.envelope_ts_ms)

    def _route(self, fills: list) -> None:
        if not fills:
            return
        self.router.route(fills)
        if self.router.buffers and not self._ensure_armed:
            self._ensure_armed = True
            self.wakeupAfter(timedelta(seconds=ENSURE_EVERY_S), payload=ENSURE)
        self._arm_facts_wait()

    def _arm_facts_wait(self) -> None:
        left = self.router.next_hold_s()
        if left is not None:
            self.wakeupAfter(timedelta(seconds=left), payload=FACTS_WAIT)

    # ------------------------------------------------------------ coalescers and markets

    def on_peers(self) -> None:
        self.router.flush_ready()

    def receiveMsg_Market(self, msg: Market, sender) -> None:
        self.router.learn(msg)
        self.router.flush_ready()

    def on_reload(self) -> None:
        if self.mempool is not None:
            self.mempool.pending.timeout_s = self.config.copy.mempool_confirm_timeout_s
        if self.router is not None:
            self.router.wait_s = self.config.copy.market_facts_wait_ms / 1000

    # ------------------------------------------------------------ timers

    def on_wakeup(self, payload) -> None:
        if payload == STATS:
            self._send_stats()
            self.wakeupAfter(timedelta(seconds=STATS_EVERY_S), payload=STATS)
        elif payload == RETRY:
            fills, self.retry = self.retry, []
            self._accept(fills)
        elif payload == ENSURE:
            self._ensure_armed = False
            for token, group in list(self.router.buffers.items()):
                self.router.ask(token, group[0])
            if self.router.buffers:
                self._ensure_armed = True
                self.wakeupAfter(timedelta(seconds=ENSURE_EVERY_S), payload=ENSURE)
        elif payload == FACTS_WAIT:
            self.router.flush_ready()
            self._arm_facts_wait()  # a timer may fire a little early
        elif payload == PENDING:
            self._pending_armed = False
            self._expire_pending()
            if self.mempool.pending.open:
                self._arm_pending()

    # ------------------------------------------------------------ mempool fills

    def _arm_pending(self) -> None:
        if not self._pending_armed:
            self._pending_armed = True
            self.wakeupAfter(timedelta(seconds=PENDING_EVERY_S), payload=PENDING)

    def _expire_pending(self) -> None:
        copy = self.config.copy
        keys, alerts, unwind = self.mempool.failures(copy.pending_revert_policy, copy.mempool_confirm_timeout_s)
        store.set_status(self.db, keys, "failed")
        for text in alerts:
            self.log.warning("intake: {}", text)
            self.report(Alert(condition="pending_failed", text=text))
        if unwind:
            new = store.save_new_fills(self.db, unwind, {f.key: self._status(f) for f in unwind})
            self._route(new)

    def _send_stats(self) -> None:
        for feed, c in self.counters.items():
            self.report(c.message(feed))
        counts = dict(self.mempool.counts)
        if counts != self._counts_logged:
            self._counts_logged = counts
            self.log.info("intake: mempool fills {}", " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        cutoff = _now_ms() - RETAIN_H * 3_600_000
        if len(self.seen) > 50_000:
            self.seen = {k: ts for k, ts in self.seen.items() if ts >= cutoff}
            self.unconfirmed = {k: f for k, f in self.unconfirmed.items() if f.source_ts_ms >= cutoff}

    def _reload_pending(self) -> None:
        timeout_ms = self.config.copy.mempool_confirm_timeout_s * 1000
        for f, status, seen_ts_ms, confirmed in store.load_open_pending(self.db, self.started_ms - timeout_ms):
            self.mempool.reload(f, status != "held", (self.started_ms - seen_ts_ms) / 1000, confirmed)
        if self.mempool.pending.open:
            self._arm_pending()

    def on_exit(self) -> None:
        if self.db is not None:
            self.db.conn.close()
            self.db = None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
