"""Provisional (mempool) fills until other feeds confirm them or they go stale. Pure; for Intake.

Identity. A provisional fill's key is `pending|<order hash>|<fill amount>` (venue/mempool.py):
the same signed order and fill seen again under another transaction hash is a retry or a
replacement of the same settlement, never a new trade; its hash is remembered.

Confirmation. A settled row (RTDS, backstop, chain) confirms a provisional fill when
`mempool.confirms` holds: same wallet, token and side, a transaction the provisional was seen
under, and a size that still fits. A taker's provisional fill is the sum over its makers, so
several rows of one transaction may confirm it together, until their sizes add up. A row under
a hash never seen pending (a retry that went straight into a block) confirms the oldest open
provisional fill with the same wallet, token and side whose whole remaining size it equals.

Staleness. A provisional fill not fully confirmed `timeout_s` after it was seen is returned by
`expire()` with the size confirmed so far: its settlement failed or never happened, and
`copy.pending_revert_policy` says what to do with our copy of it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from polycopy.messages import SourceFill
from polycopy.venue.mempool import SIZE_TOLERANCE, confirms


@dataclass
class Pending:
    fill: SourceFill  # the first delivery
    seen_s: float
    tx_hashes: set = field(default_factory=set)
    confirmed: Decimal = Decimal(0)
    confirmed_by: list = field(default_factory=list)  # keys of the settled rows

    @property
    def remaining(self) -> Decimal:
        return self.fill.size - self.confirmed


class PendingFills:
    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic):
        self.timeout_s, self.clock = timeout_s, clock
        self.open: dict[str, Pending] = {}  # key -> Pending, in the order seen

    def on_provisional(self, fill: SourceFill) -> bool:
        """True for a new provisional fill; False for a retry/replacement (its hash is kept)."""
        known = self.open.get(fill.key)
        if known is not None:
            known.tx_hashes.add(fill.tx_hash.lower())
            return False
        self.open[fill.key] = Pending(fill, self.clock(), {fill.tx_hash.lower()})
        return True

    def on_settled(self, fill: SourceFill) -> str | None:
        """The key of the provisional fill this settled row confirms, or None (a fill of its own)."""
        match = next((p for p in self.open.values()
                      if fill.size <= p.remaining + SIZE_TOLERANCE and confirms(p.fill, fill, p.tx_hashes)), None)
        if match is None:  # a hash never seen pending: only a row that covers a whole open fill
            match = next((p for p in self.open.values()
                          if not p.confirmed and abs(p.remaining - fill.size) <= SIZE_TOLERANCE
                          and confirms(p.fill, fill, {fill.tx_hash})), None)
        if match is None:
            return None
        match.tx_hashes.add(fill.tx_hash.lower())
        match.confirmed += fill.size
        match.confirmed_by.append(fill.key)
        key = match.fill.key
        if match.remaining <= SIZE_TOLERANCE:
            del self.open[key]
        return key

    def expire(self) -> list[tuple[SourceFill, Decimal]]:
        """Provisional fills past the timeout, removed: (fill, size confirmed so far)."""
        cutoff = self.clock() - self.timeout_s
        stale = [p for p in self.open.values() if p.seen_s <= cutoff]
        for p in stale:
            del self.open[p.fill.key]
        return [(p.fill, p.confirmed) for p in stale]
