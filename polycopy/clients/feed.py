"""What every feed's I/O thread shares: its state (read by the actor), the backoff and circuit
breaker that pace its reconnects, and the count of bad input with a sampled log.

The I/O thread writes `FeedState` and calls `update_health`, which wakes the actor through
its ThreadBridge (actors/watcher_io.py); the actor reads the attributes (plain reads are safe).
"""
from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from polycopy.errors import Malformed
from polycopy.wire.jsontext import excerpt


@dataclass
class FeedState:
    connected: bool = False
    last_data_mono: float = field(default_factory=time.monotonic)
    reconnects: int = 0
    malformed: int = 0
    circuit_open: bool = False
    detail: str = ""
    malformed_kinds: Counter = field(default_factory=Counter)


def update_health(bridge, state: FeedState, **changes) -> None:
    """From the I/O thread: change the feed's state and wake the actor to report it."""
    for k, v in changes.items():
        setattr(state, k, v)
    bridge.put(("health", None))


class Backoff:
    """Jittered exponential delay: attempt n waits min(max, min * 2**(n-1)) * U(0.5, 1)."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None):
        self.min_s, self.max_s = min_s, max_s
        self.rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        if attempt <= 0:
            return 0.0
        cap = min(self.max_s, self.min_s * (2 ** min(attempt - 1, 30)))
        return cap * self.rng.uniform(0.5, 1.0)


class CircuitBreaker:
    """Opens after `limit` consecutive failures for `cooldown_s`, then lets one attempt through."""

    def __init__(self, limit: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic):
        self.limit, self.cooldown_s, self.clock = limit, cooldown_s, clock
        self.failures = 0
        self.opened_at: float | None = None

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.limit and self.opened_at is None:
            self.opened_at = self.clock()

    def open_for_s(self) -> float:
        """Seconds left open (0 when closed or the cooldown is over: half-open)."""
        if self.opened_at is None:
            return 0.0
        left = self.cooldown_s - (self.clock() - self.opened_at)
        if left <= 0:
            self.opened_at, self.failures = None, self.limit - 1  # half-open: one more failure reopens
            return 0.0
        return left


class RateLimitedLog:
    """Log one line per kind per `every_s` (a bad feed must not flood the log)."""

    def __init__(self, every_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.every_s, self.clock = every_s, clock
        self._last: dict[str, float] = {}

    def warn(self, log, kind: str, text: str, *args) -> bool:
        now = self.clock()
        if now - self._last.get(kind, -1e18) < self.every_s:
            return False
        self._last[kind] = now
        log.warning(text, *args)
        return True


class BadInput:
    """Counts Malformed input into a FeedState (total and by kind); logs the first of each kind
    per minute with its excerpt."""

    def __init__(self, feed: str, state: FeedState, log, every_s: float = 60.0):
        self.feed, self.state, self.log = feed, state, log
        self.logs = RateLimitedLog(every_s)

    def count(self, e: Malformed, text=None) -> None:
        """Count `e`; `text` is the input, for the excerpt when `e` carries none."""
        if not e.excerpt and text is not None:
            e.excerpt = excerpt(text)
        self.state.malformed += 1
        self.state.malformed_kinds[e.kind] += 1
        self.logs.warn(self.log, e.kind, "{}: malformed input ({}); {} so far; {}", self.feed, e, self.state.malformed,
                       e.excerpt or "(no excerpt)")
