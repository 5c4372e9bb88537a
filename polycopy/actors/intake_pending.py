"""Intake's mempool path: which provisional and settled fills to copy. Pure (no actor, no I/O).

A provisional (mempool) fill is copied at once when `copy.copy_pending_fills` is on, else held.
A settled row (RTDS, backstop) that confirms a provisional fill (policy/pending.py) is the same
trade: not copied again when the provisional fill was copied, copied (as the first copy) when it
was held. A settled row that arrived before its provisional fill (a slow node) is remembered for
the confirm timeout, so the late provisional fill is recognised as already settled and not copied.
A copied provisional fill still unconfirmed at the timeout failed: Intake applies
`copy.pending_revert_policy` to it.
"""
from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import replace
from decimal import Decimal
from typing import Callable

from polycopy.messages import SourceFill
from polycopy.ops.names import market_name
from polycopy.policy.pending import PendingFills
from polycopy.venue.mempool import SIZE_TOLERANCE, confirms

RECENT_MAX = 2000  # settled rows remembered for a late provisional fill


class PendingRouter:
    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.pending = PendingFills(timeout_s, clock)
        self.copied: set[str] = set()  # provisional keys we copied (routed or buffered)
        self.recent: deque = deque(maxlen=RECENT_MAX)  # (seen_s, settled fill) matching no provisional
        self.counts: Counter = Counter()  # seen, copied, held, late, confirmed, failed

    def is_open(self, key: str) -> bool:
        return key in self.pending.open

    def retry_seen(self, fill: SourceFill) -> None:
        """The same provisional fill under another transaction hash: remember the hash."""
        if fill.key in self.pending.open:
            self.pending.on_provisional(fill)

    def on_provisional(self, fill: SourceFill, copy: bool) -> str:
        """A new provisional fill -> its status: "provisional" (copy it), "held", or "confirmed"
        (the other feeds already delivered it: copied from them)."""
        self.counts["seen"] += 1
        self.pending.on_provisional(fill)
        if self._settled_already(fill):
            del self.pending.open[fill.key]
            self.counts["late"] += 1
            return "confirmed"
        if copy:
            self.copied.add(fill.key)
            self.counts["copied"] += 1
            return "provisional"
        self.counts["held"] += 1
        return "held"

    def on_settled(self, fill: SourceFill) -> tuple[str | None, bool]:
        """A settled row new by key -> (key of the provisional fill it confirms or None, whether
        that provisional fill was copied). Only (None, False) and (k, False) are to be routed."""
        k = self.pending.on_settled(fill)
        if k is None:
            self._forget_old()
            self.recent.append((self.clock(), fill))
            return None, False
        if k not in self.pending.open:
            self.counts["confirmed"] += 1
        return k, k in self.copied

    def closed(self, key: str) -> bool:
        """Fully confirmed (or expired): no longer open."""
        if key not in self.pending.open:
            self.copied.discard(key)
            return True
        return False

    def expire(self) -> list[tuple[SourceFill, Decimal, bool]]:
        """Provisional fills past the timeout: (fill, size confirmed so far, whether we copied it)."""
        out = []
        for fill, confirmed in self.pending.expire():
            self.counts["failed"] += 1
            out.append((fill, confirmed, fill.key in self.copied))
            self.copied.discard(fill.key)
        return out

    def failures(self, policy: str, timeout_s: float) -> tuple[list[str], list[str], list[SourceFill]]:
        """Expire what is past the timeout: (their keys, an alert text per copied one, the unwind fills
        `pending_revert_policy: unwind` asks for: the opposite of the unconfirmed part)."""
        keys, alerts, unwind = [], [], []
        for f, confirmed, copied in self.expire():
            keys.append(f.key)
            if not copied:
                continue
            name = market_name(None, f.token_id, slug=f.slug, outcome=f.outcome)
            alerts.append(f"the source's settlement {f.tx_hash[:14]} of {f.side} {f.size} {name} was "
                          f"not confirmed in {timeout_s:g}s (confirmed {confirmed}); our copy is "
                          f"{'unwound' if policy == 'unwind' else 'held'}")
            if policy == "unwind" and f.size - confirmed > 0:
                unwind.append(unwind_fill(f, f.size - confirmed))
        return keys, alerts, unwind

    def reload(self, fill: SourceFill, copied: bool, age_s: float, confirmed: Decimal) -> None:
        """A provisional fill still open before a restart."""
        self.pending.on_provisional(fill)
        p = self.pending.open[fill.key]
        p.seen_s -= max(0.0, age_s)
        p.confirmed = confirmed
        if copied:
            self.copied.add(fill.key)

    def snapshot(self) -> tuple:
        open_ = {k: replace(p, tx_hashes=set(p.tx_hashes), confirmed_by=list(p.confirmed_by))
                 for k, p in self.pending.open.items()}
        return open_, set(self.copied), deque(self.recent, maxlen=RECENT_MAX), Counter(self.counts)

    def restore(self, saved: tuple) -> None:
        """Undo the effects of a batch the database refused (it is offered again later)."""
        self.pending.open, self.copied, self.recent, self.counts = saved

    def _settled_already(self, fill: SourceFill) -> bool:
        self._forget_old()
        left, used = fill.size, set()
        for _, r in self.recent:  # oldest first, as many rows as add up to the provisional size
            if left > SIZE_TOLERANCE and r.size <= left + SIZE_TOLERANCE and confirms(fill, r, {fill.tx_hash}):
                left -= r.size
                used.add(id(r))
        if left > SIZE_TOLERANCE:
            return False
        self.recent = deque(((t, r) for t, r in self.recent if id(r) not in used), maxlen=RECENT_MAX)
        return True

    def _forget_old(self) -> None:
        cutoff = self.clock() - self.pending.timeout_s
        while self.recent and self.recent[0][0] < cutoff:
            self.recent.popleft()


def unwind_fill(f: SourceFill, size: Decimal) -> SourceFill:
    """The opposite of a copied provisional fill whose settlement failed (the unconfirmed part)."""
    return replace(f, key=f"unwind|{f.key}", side="SELL" if f.side == "BUY" else "BUY", size=size, provisional=False,
                   source_ts_ms=time.time_ns() // 1_000_000, recv_mono_ns=time.monotonic_ns(), envelope_ts_ms=0)
