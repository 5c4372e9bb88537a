"""Intake: deduplicates source fills across feeds and restarts, persists, then routes per token.

A fill is new exactly once: its key (tx|token|side|price|size|occurrence, see
venue/source_fill.py) is checked against memory, then inserted into SQLite (`INSERT OR
IGNORE`, the primary key decides) before anything is sent. New fills go per token as one
FillBatch to `coalescer:<token>`; when that coalescer does not exist yet the fills wait in a
buffer (status "buffered" on disk) while the supervisor is asked for it (EnsureCoalescer,
repeated every few seconds) and the catalog for the market facts. When neither the slug nor the
facts tell the market's end, the buffer also waits for the facts, up to
`copy.market_facts_wait_ms`: Risk rejects an opening order in a market whose end it does not
know, and a first fill must not be lost only because the catalog's lookup was slower than the
coalescer's start.

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
"""
from __future__ import annotations

import sqlite3
import time
from collections import defaultdict, deque
from dataclasses import replace
from datetime import timedelta
from statistics import median

from polycopy.actors.base import ChildActor
from polycopy.actors.intake_pending import PendingRouter
from polycopy.messages import Alert, EnsureCoalescer, FeedStats, FillBatch, MarketFacts, NeedMarketFacts, StageTiming
from polycopy.policy.markets import end_ts_from_slug
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
ENSURE_EVERY_S = 2.0


class FeedCounters:
    def __init__(self):
        self.first_seen = self.duplicates = self.stale = 0
        self.lag_source: deque = deque(maxlen=500)
        self.lag_envelope: deque = deque(maxlen=500)

    def message(self, feed: str) -> FeedStats:
        def p50(d):
            return round(median(d), 1) if d else 0.0

        return FeedStats(
            feed=feed, first_seen=self.first_seen, duplicates=self.duplicates, stale=self.stale,
            lag_source_ms_p50=p50(self.lag_source), lag_source_ms_max=round(max(self.lag_source, default=0.0), 1),
            lag_envelope_ms_p50=p50(self.lag_envelope), lag_envelope_ms_max=round(max(self.lag_envelope, default=0.0), 1),
        )


class Intake(ChildActor):
    role = "intake"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.db = None
        self.seen: dict[str, int] = {}  # key -> source_ts_ms
        self.buffers: dict[str, list] = {}  # token -> fills waiting for the coalescer
        self.asked: dict[str, float] = {}  # token -> monotonic time EnsureCoalescer was sent
        self.facts: dict[str, MarketFacts] = {}  # token -> facts
        self.end_unknown: set[str] = set()  # tokens whose coalescer was asked for without a market end
        self.facts_asked: set[str] = set()
        self.hold_until: dict[str, float] = {}  # token -> monotonic time its buffer stops waiting for facts
        self.counters: dict[str, FeedCounters] = defaultdict(FeedCounters)
        self.started_ms = 0
        self._ensure_armed = False
        self.retry: list = []  # fills the database refused; tried again after RETRY_S
        self.mempool: PendingRouter | None = None
        self._pending_armed = False
        self._counts_logged: dict = {}

    # ------------------------------------------------------------ start

    def on_init(self, msg) -> None:
        self.started_ms = _now_ms()
        self.db = open_db(self.config.store.path, self.config.store.synchronous)
        store.ensure(self.db)
        self.seen = store.load_keys(self.db, self.started_ms - RETAIN_H * 3_600_000)
        waiting = store.load_buffered(self.db, self.started_ms - self.config.copy.max_fill_age_at_start_s * 1000)
        self.mempool = PendingRouter(self.config.copy.mempool_confirm_timeout_s)
        self._reload_pending()
        stale = [f.key for f in waiting if f.provisional and not self.mempool.is_open(f.key)]
        store.set_status(self.db, stale, "stale")  # past the confirm timeout: the settled rows are copied instead
        waiting = [f for f in waiting if f.key not in set(stale)]
        self.log.info("intake: {} known fills loaded, {} buffered to route, {} provisional open", len(self.seen),
                      len(waiting), len(self.mempool.pending.open))
        self._route(waiting)
        self.wakeupAfter(timedelta(seconds=STATS_EVERY_S), payload=STATS)

    # ------------------------------------------------------------ fills

    def receiveMsg_FillBatch(self, msg: FillBatch, sender) -> None:
        arrival = (("watcher", msg.sent_ns), ("intake_in", time.monotonic_ns()))
        self._accept(list(msg.fills), tuple(s for s in arrival if s[1]))

    def _accept(self, fills: list, arrival: tuple = ()) -> None:
        fresh, batch_keys = [], set()
        for f in fills:
            if f.key in self.seen or f.key in batch_keys:
                self.counters[f.feed].duplicates += 1
                if f.provisional:
                    self.mempool.retry_seen(f)  # another tx hash of the same settlement
            else:
                batch_keys.add(f.key)
                fresh.append(f)
        if not fresh:
            return
        saved = self.mempool.snapshot()
        status, links = {}, {}
        for f in fresh:
            status[f.key] = self._status(f)
            if status[f.key] != "stale":
                self._classify(f, status, links)
        try:
            new = store.save_new_fills(self.db, fresh, status, links)  # persisted before routed
        except sqlite3.Error as e:
            self.mempool.restore(saved)
            self.log.error("intake: cannot store {} fills ({}); retrying in {}s", len(fresh), e, RETRY_S)
            if not self.retry:
                self.wakeupAfter(timedelta(seconds=RETRY_S), payload=RETRY)
            self.retry.extend(fresh)
            return
        new_keys = {f.key for f in new}
        for f in fresh:
            if f.key not in new_keys:  # known on disk only (older than what memory keeps)
                self.counters[f.feed].duplicates += 1
        for f in new:
            self.seen[f.key] = f.source_ts_ms
            self._count_new(f, status[f.key])
        done = [k for k in set(links.values()) if self.mempool.closed(k)]
        store.set_status(self.db, done, "confirmed")
        to_copy = [f for f in new if status[f.key] in TO_COPY]
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

    def _status(self, f) -> str:
        now = _now_ms()
        if f.source_ts_ms < self.started_ms and now - f.source_ts_ms > self.config.copy.max_fill_age_at_start_s * 1000:
            return "stale"
        routable = f"coalescer:{f.token_id}" in self.peers and f.token_id not in self.buffers
        return "routed" if routable else "buffered"

    def _classify(self, f, status: dict, links: dict) -> None:
        """The mempool path's say on a fill new by key (status "routed" or "buffered" so far)."""
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
        c.first_seen += 1
        c.stale += status == "stale"
        recv_wall_ms = time.time() * 1000 - (time.monotonic_ns() - f.recv_mono_ns) / 1e6
        c.lag_source.append(recv_wall_ms - f.source_ts_ms)
        if f.envelope_ts_ms:
            c.lag_envelope.append(recv_wall_ms - f.envelope_ts_ms)

    def _route(self, fills: list) -> None:
        by_token: dict[str, list] = {}
        for f in fills:
            by_token.setdefault(f.token_id, []).append(f)
        for token, group in by_token.items():
            addr = self.peers.get(f"coalescer:{token}")
            if addr is not None and token not in self.buffers:
                self.send(addr, FillBatch(fills=tuple(group), sent_ns=time.monotonic_ns()))
            else:
                if token not in self.buffers and not self._end_known(token, group[0]):
                    self._hold(token)
                self.buffers.setdefault(token, []).extend(group)
                self._ask_for(token, group[0])

    # ------------------------------------------------------------ coalescers and facts

    def _ask_for(self, token: str, fill) -> None:
        if time.monotonic() - self.asked.get(token, -1e9) >= ENSURE_EVERY_S and self.parent is not None:
            facts = self.facts.get(token)
            end_ts = facts.end_ts if facts else (end_ts_from_slug(fill.slug) or 0)
            self.send(self.parent, EnsureCoalescer(key=token, condition_id=fill.condition_id, end_ts=end_ts))
            self.asked[token] = time.monotonic()
            if not end_ts:
                self.end_unknown.add(token)
        if token not in self.facts and token not in self.facts_asked and "catalog" in self.peers:
            self.facts_asked.add(token)
            self.send(self.peers["catalog"], NeedMarketFacts(key=token, condition_id=fill.condition_id, slug=fill.slug))
        if not self._ensure_armed:
            self._ensure_armed = True
            self.wakeupAfter(timedelta(seconds=ENSURE_EVERY_S), payload=ENSURE)

    def _end_known(self, token: str, fill) -> bool:
        return token in self.facts or bool(end_ts_from_slug(fill.slug))

    def _hold(self, token: str) -> None:
        wait_s = self.config.copy.market_facts_wait_ms / 1000
        if wait_s > 0:
            self.hold_until[token] = time.monotonic() + wait_s
            self.wakeupAfter(timedelta(seconds=wait_s), payload=FACTS_WAIT)

    def on_peers(self) -> None:
        self._flush_ready()

    def _flush_ready(self) -> None:
        """Route each buffer whose coalescer exists, unless it still waits for its market's end."""
        now = time.monotonic()
        for token in [t for t in self.buffers if f"coalescer:{t}" in self.peers]:
            if not self._end_known(token, self.buffers[token][0]):
                if now < self.hold_until.get(token, 0):
                    continue
                if token in self.hold_until:
                    self.log.warning("no market end for token {} after {} ms: its fills go on, and risk decides",
                                     token[:16], self.config.copy.market_facts_wait_ms)
            self.hold_until.pop(token, None)
            group = self.buffers.pop(token)
            store.set_status(self.db, [f.key for f in group if not f.provisional], "routed")  # written before sent
            store.set_status(self.db, [f.key for f in group if f.provisional], "provisional", only_from="buffered")
            self.send(self.peers[f"coalescer:{token}"], FillBatch(fills=tuple(group)))
            self.asked.pop(token, None)

    def on_reload(self) -> None:
        if self.mempool is not None:
            self.mempool.pending.timeout_s = self.config.copy.mempool_confirm_timeout_s

    def receiveMsg_MarketFacts(self, msg: MarketFacts, sender) -> None:
        for token in map(str, msg.token_ids):
            self.facts[token] = msg
            # A coalescer asked for before its market's end was known (a mempool fill has no slug)
            # learns it now, so the supervisor can retire it after the market ends.
            if msg.end_ts and token in self.end_unknown and self.parent is not None:
                self.end_unknown.discard(token)
                self.send(self.parent, EnsureCoalescer(key=token, condition_id=msg.condition_id, end_ts=msg.end_ts))
        self._flush_ready()

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
            for token, group in list(self.buffers.items()):
                self._ask_for(token, group[0])
        elif payload == FACTS_WAIT:
            self._flush_ready()
            now = time.monotonic()
            due = [t for t in self.hold_until.values() if t > now]
            if due:  # a timer may fire a little early
                self.wakeupAfter(timedelta(seconds=min(due) - now), payload=FACTS_WAIT)
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
        expired = self.mempool.expire()
        if not expired:
            return
        store.set_status(self.db, [f.key for f, _, _ in expired], "failed")
        policy = self.config.copy.pending_revert_policy
        unwind = []
        for f, confirmed, copied in expired:
            if not copied:
                self.log.info("intake: held mempool fill {} was never settled", f.key[:40])
                continue
            text = (f"the source's settlement {f.tx_hash[:14]} of {f.side} {f.size} token {f.token_id[:12]} was not "
                    f"confirmed in {self.config.copy.mempool_confirm_timeout_s:g}s (confirmed {confirmed}); "
                    f"our copy is {'unwound' if policy == 'unwind' else 'held'}")
            self.log.warning("intake: {}", text)
            self.report(Alert(condition="pending_failed", text=text))
            if policy == "unwind" and f.size - confirmed > 0:
                unwind.append(_unwind_fill(f, f.size - confirmed))
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


def _unwind_fill(f, size):
    """The opposite of a copied provisional fill whose settlement failed (the unconfirmed part)."""
    return replace(f, key=f"unwind|{f.key}", side="SELL" if f.side == "BUY" else "BUY", size=size, provisional=False,
                   source_ts_ms=_now_ms(), recv_mono_ns=time.monotonic_ns(), envelope_ts_ms=0)
