"""MarketCatalog: the facts of every market the source touches, pushed before they are needed.

- `NeedMarketFacts` (intake, reconciler): known facts are answered at once; unknown ones are
  looked up on Gamma, retried on a timer while Gamma does not answer or does not know the token
  yet. The fill that asked waits in intake; it is never dropped.
- Pre-loading: the assets of the 15-minute Up/Down markets the source trades are learned from
  their slugs; every PRELOAD_EVERY_S the current and next windows of each asset are fetched by
  slug, pushed to the consumers, and a coalescer is ensured (supervisor) for both tokens, so the
  first fill of a new window pays neither a lookup nor a process start.
- Tick sizes: every TICK_EVERY_S the CLOB's /tick-size of each live market is read; a change
  is pushed at once (the executor prices the next order with it). Polling one cheap GET per
  live market was preferred to a second market websocket: nothing to reconnect or resubscribe.

Markets go to intake (which routes each token's fills with its `Market`, so the coalescer, risk
and the executor get it inside the messages), to the executor (which subscribes to their books)
and to the reconciler. A market's end is computed here, once (`policy.markets.market_end`). Every
HTTP call runs on the catalog's I/O thread (io_jobs.py) with short timeouts; the actor never
waits on it.

Long because it keeps three lookups (by token, by slug, tick sizes) on one I/O thread with
retries, and pre-loads the coming 15-minute windows with their coalescers.
"""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

from polycopy import bootstrap
from polycopy.actors.base import ChildActor
from polycopy.actors.io_jobs import JobsActor
from polycopy.errors import TemporaryError
from polycopy.messages import EnsureCoalescer, Market, NeedMarketFacts
from polycopy.policy.markets import WINDOW_S, is_updown, market_end, updown_slug
from polycopy.store import positions as store
from polycopy.store.db import open_db

CONSUMERS = ("executor", "intake", "reconciler", "telemetry")  # telemetry: names for people
RETRY, PRELOAD, TICKS = "catalog-retry", "catalog-preload", "catalog-ticks"
HTTP_TIMEOUT_S = 2.0
MAX_ATTEMPTS = 6  # a token Gamma does not know after this many tries is given up (logged)
UPDOWN = "-updown-15m-"


class Catalog(JobsActor, ChildActor):
    role = "catalog"
    PRELOAD_EVERY_S = 15.0
    TICK_EVERY_S = 5.0
    LOOKAHEAD_WINDOWS = 1  # the current window and this many after it
    clock = staticmethod(time.time)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.facts: dict[str, Market] = {}  # token id -> facts
        self.slugs: set[str] = set()  # slugs whose facts we have
        self.assets: set[str] = set()  # "btc", ... learned from 15-minute slugs
        self.inflight: set[tuple] = set()  # ("token", id) | ("slug", s) | ("tick", condition id)
        self.attempts: dict[tuple, int] = {}
        self.askers: dict[str, list] = {}  # token -> addresses outside CONSUMERS waiting for it
        self.ensured: set[str] = set()  # tokens we asked the supervisor a coalescer for
        self.preloading: set[str] = set()  # slugs fetched ahead of their window
        self.learned: set[str] = set()  # 15-minute slugs the source was seen trading
        self.pushed_to: dict[str, object] = {}  # role -> address we last pushed to
        self.jobs = None
        self.api = None
        self.db = None

    def make_api(self):
        """Gamma and the CLOB's tick sizes, from the composition root (tests hand a fake in here)."""
        return bootstrap.markets_api(self.config, HTTP_TIMEOUT_S)

    # ------------------------------------------------------------ lifecycle

    def on_init(self, msg) -> None:
        self.api = self.make_api()
        self.db = open_db(self.config.store.path, self.config.store.synchronous)
        self.assets = store.load_assets(self.db)
        self.start_jobs("catalog-io")
        if self.assets:
            self.log.info("pre-loading the 15-minute windows of {}", ", ".join(sorted(self.assets)))
            self.preload()
        self.wakeupAfter(timedelta(seconds=self.PRELOAD_EVERY_S), payload=PRELOAD)
        self.wakeupAfter(timedelta(seconds=self.TICK_EVERY_S), payload=TICKS)

    # ------------------------------------------------------------ requests

    def receiveMsg_NeedMarketFacts(self, msg: NeedMarketFacts, sender):
        self._learn(msg.slug)
        if not msg.key:  # a market known only by its slug (the reconciler, for source activity)
            if msg.slug and msg.slug not in self.slugs:
                self._submit(("slug", msg.slug))
            return
        facts = self.facts.get(msg.key)
        if facts is not None:
            self.send(sender, facts)
            return
        waiting = self.askers.setdefault(msg.key, [])
        if sender not in [self.peers.get(r) for r in CONSUMERS] and sender not in waiting:
            waiting.append(sender)  # ActorAddress is not hashable
        self._submit(("token", msg.key), urgent=sender == self.peers.get("intake"))

    def _submit(self, job: tuple, arg: str | None = None, urgent: bool = False) -> None:
        """Queue a lookup unless the same one is in flight: ("token", id), ("slug", s), ("tick", condition id).
        Urgent: a fill waits for it (intake); it goes before pre-loads and tick checks."""
        if self.jobs is None or job in self.inflight:
            return
        fn = {"token": self.api.market_by_token, "slug": self.api.market_by_slug, "tick": self.api.tick_size}[job[0]]
        self.inflight.add(job)
        self.jobs.submit(job, fn, arg or job[1], urgent=urgent)

    # ------------------------------------------------------------ results

    def receiveMsg_WatchMessage(self, msg, sender):
        if self.jobs is None:
            return
        for job, result, error in self.jobs.drain():
            self.inflight.discard(job)
            if error is not None:
                self._failed(job, error)
            elif job[0] == "tick":
                self._tick_result(job[1], result)
            elif result is None:
                self._unknown(job)
            else:
                self.attempts.pop(job, None)
                self.publish(result, preloaded=job[0] == "slug" and job[1] in self.preloading)

    def _failed(self, job: tuple, error: BaseException) -> None:
        if not isinstance(error, TemporaryError):
            self.log.error("catalog lookup {} failed: {}: {}", job, type(error).__name__, error)
        if job[0] == "token":
            self._retry(job, getattr(error, "retry_after_s", None), str(error))
        # slug and tick lookups are repeated by their own timers

    def _unknown(self, job: tuple) -> None:
        if job[0] == "token":
            self._retry(job, None, "gamma does not know it yet")

    def _retry(self, job: tuple, after_s: float | None, why: str) -> None:
        n = self.attempts[job] = self.attempts.get(job, 0) + 1
        if n >= MAX_ATTEMPTS:
            self.log.error("no market facts for token {} after {} tries ({}); giving up", job[1][:16], n, why)
            self.attempts.pop(job, None)
            return
        delay = after_s or min(30.0, 0.5 * 2 ** (n - 1))
        self.log.warning("market facts for {} not available ({}); retry {} in {:.1f}s", job[1][:16], why, n, delay)
        self.wakeupAfter(timedelta(seconds=delay), payload=(RETRY, job))

    def _tick_result(self, condition_id: str, tick) -> None:
        facts = next((f for f in self.facts.values() if f.condition_id == condition_id), None)
        if facts is None or tick is None or tick == facts.tick_size:
            return
        self.log.info("tick size of {} changed {} -> {}", facts.slug or condition_id[:12], facts.tick_size, tick)
        self.publish(replace(facts, tick_size=tick))

    # ------------------------------------------------------------ pushing facts

    def publish(self, facts: Market, roles=CONSUMERS, preloaded: bool = False) -> None:
        end = market_end(facts.slug, facts.end_ts)
        if end != facts.end_ts:
            facts = replace(facts, end_ts=end)
        for t in facts.token_ids:
            self.facts[t] = facts
        self.slugs.add(facts.slug)
        if not preloaded:
            self._learn(facts.slug)
        for role in roles:
            if role in self.peers:
                self.send(self.peers[role], facts)
                self.pushed_to[role] = self.peers[role]
        for t in facts.token_ids:
            for asker in self.askers.pop(t, ()):
                self.send(asker, facts)
        cutoff = self.config.execution.near_expiry_cutoff_seconds
        if preloaded and facts.end_ts > self.clock() + cutoff and facts.accepting_orders:
            self._ensure_coalescers(facts)

    def _ensure_coalescers(self, facts: Market) -> None:
        if self.parent is None:
            return
        for t in facts.token_ids:
            if t not in self.ensured and f"coalescer:{t}" not in self.peers:
                self.ensured.add(t)
                self.send(self.parent, EnsureCoalescer(key=t, condition_id=facts.condition_id, end_ts=facts.end_ts))

    def on_peers(self) -> None:
        # A restarted consumer (new address) has lost what we pushed.
        by_market = {f.condition_id: f for f in self.facts.values()}
        for role in CONSUMERS:
            addr = self.peers.get(role)
            if addr is not None and role in self.pushed_to and self.pushed_to[role] != addr:
                for facts in by_market.values():
                    self.send(addr, facts)
                self.pushed_to[role] = addr

    # ------------------------------------------------------------ timers

    def on_wakeup(self, payload) -> None:
        if payload == PRELOAD:
            self.preload()
            self.wakeupAfter(timedelta(seconds=self.PRELOAD_EVERY_S), payload=PRELOAD)
        elif payload == TICKS:
            self.refresh_ticks()
            self.wakeupAfter(timedelta(seconds=self.TICK_EVERY_S), payload=TICKS)
        elif isinstance(payload, tuple) and payload[0] == RETRY and payload[1][1] not in self.facts:
            self._submit(payload[1], urgent=True)

    def preload(self) -> None:
        now = int(self.clock())
        for asset in sorted(self.assets):
            for k in range(self.LOOKAHEAD_WINDOWS + 1):
                slug = updown_slug(asset, now + k * WINDOW_S)
                if slug not in self.slugs:
                    self.preloading.add(slug)
                    self._submit(("slug", slug))

    def refresh_ticks(self) -> None:
        now = self.clock()
        for facts in {f.condition_id: f for f in self.facts.values()}.values():
            if facts.accepting_orders and (facts.end_ts == 0 or facts.end_ts > now):
                self._submit(("tick", facts.condition_id), facts.token_ids[0])
        self._forget_ended(now)

    def _forget_ended(self, now: float) -> None:
        """Drop facts of markets that ended over an hour ago (15-minute markets pile up)."""
        old = [t for t, f in self.facts.items() if f.end_ts and f.end_ts < now - 3600]
        for t in old:
            slug = self.facts.pop(t).slug
            for seen in (self.slugs, self.preloading, self.learned):
                seen.discard(slug)
            self.ensured.discard(t)

    def _learn(self, slug: str) -> None:
        if not is_updown(slug) or slug in self.learned:
            return
        self.learned.add(slug)
        asset = slug.split(UPDOWN, 1)[0]
        store.save_asset(self.db, asset)  # once per new market: keeps the asset fresh across restarts
        if asset not in self.assets:
            self.assets.add(asset)
            self.log.info("source trades {} 15-minute markets; pre-loading its windows", asset)
            self.preload()
