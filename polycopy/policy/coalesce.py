"""A token's stream of source fills -> copy intents. Pure: the Coalescer actor feeds it fills and
the clock, and sends what it returns.

intent_net (per token):
- The first fill of a burst is acted on at once: its netted, sized trade is the *leading*
  intent, with no waiting. That moment opens the burst horizon (`copy.burst_horizon_ms`).
- Fills inside the horizon are gathered (opposite sides net out when `net_opposite_trades`)
  and go as one *trailing* intent when the horizon ends. One horizon therefore holds the
  leading order and at most one trailing order, however the fills are spaced (clusters
  400-500 ms apart included). A fill at or after the horizon end opens a new burst.
- `coalesce_ms` of quiet flushes the gathered fills early only when that keeps the promise:
  when no order has gone out in this horizon yet (the leading fill was too small and rode
  along), an early flush still leaves room for one order at the horizon end. Once the leading
  order went, an early flush could be followed by a third order in the same horizon, so the
  trailing order waits for the horizon end.
- A leading fill too small to trade alone rides with the trailing order. What is still too
  small at the horizon end is dropped with its reason; fills that net to zero are dropped as
  "netted_out".
- `copy.leading_order` says when the burst's first order goes:
  - `immediate` (above): with the first fill, netting only what follows (no added latency);
  - `after_window` (PRD §11 "aggregate over coalesce_ms and net before execution"): the first
    fill opens a window of `coalesce_ms`; at its end everything gathered goes as one net intent
    (none when opposite fills cancel), and the rest of the horizon gathers for the one trailing
    order as above. Every copy of the burst's first fills waits `coalesce_ms`; a buy and a sell
    that cancel inside the window cost no order and no spread.
fill_by_fill: each fill is its own intent; one too small to trade is dropped with its reason.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from polycopy.policy.sizing import SizingParams, size_order, untradable_reason

MAX_ORDERS_PER_HORIZON = 2
BUY, SELL = "BUY", "SELL"


@dataclass(frozen=True, slots=True)
class CoalesceParams:
    mode: str  # "intent_net" | "fill_by_fill"
    horizon_ns: int
    quiet_ns: int
    net_opposite: bool
    after_window: bool = False  # copy.leading_order == "after_window"

    @classmethod
    def from_config(cls, config) -> "CoalesceParams":
        c = config.copy
        return cls(c.copy_mode, c.burst_horizon_ms * 1_000_000, c.coalesce_ms * 1_000_000, c.net_opposite_trades,
                   c.leading_order == "after_window")


@dataclass(frozen=True, slots=True)
class Piece:
    """Netted fills of one side: what one intent would cover."""

    side: str
    source_size: Decimal  # net source shares (0 when the fills netted out)
    source_price: Decimal  # size-weighted price of the fills on `side`
    fill_keys: tuple
    first_recv_ns: int
    source_ts_ms: int


@dataclass(frozen=True, slots=True)
class Emit:
    piece: Piece
    size: Decimal  # sized shares
    reason: str  # "leading" | "trailing" | "fill"


@dataclass(frozen=True, slots=True)
class Drop:
    piece: Piece
    size: Decimal
    reason: str  # "netted_out" | "below_min_size" | "below_min_notional" | "zero_size"


def intent_id_for(fill_keys) -> str:
    """Stable id of the intent that covers these fills: a replay yields the same id."""
    return hashlib.sha256("\n".join(fill_keys).encode()).hexdigest()[:32]


def _side(f) -> str:
    return str(f.side).upper()


def net_fills(fills, net_opposite: bool) -> list[Piece]:
    """One piece for all fills (netted), or one per side when netting is off."""
    if not fills:
        return []
    groups = [list(fills)] if net_opposite else [g for g in ([f for f in fills if _side(f) == s] for s in (BUY, SELL)) if g]
    pieces = []
    for g in groups:
        signed = sum((f.size if _side(f) == BUY else -f.size for f in g), Decimal(0))
        side = BUY if signed > 0 else SELL if signed < 0 else _side(g[0])
        same = [f for f in g if _side(f) == side] or g
        qty = sum((f.size for f in same), Decimal(0))
        price = sum((f.price * f.size for f in same), Decimal(0)) / qty if qty else same[0].price
        pieces.append(Piece(side, abs(signed), price, tuple(f.key for f in g), g[0].recv_mono_ns, g[0].source_ts_ms))
    return pieces


class BurstCoalescer:
    """The burst state of one token. `add` and `tick` return a list of Emit/Drop actions."""

    def __init__(self, params: CoalesceParams, sizing: SizingParams):
        self.params = params
        self.sizing = sizing
        self.horizon_end_ns: int | None = None
        self.window_end_ns: int | None = None  # after_window: when the leading order goes
        self.sent = 0  # orders sent in the current horizon
        self.pending: list = []
        self.last_fill_ns = 0
        self.early_tried = False  # an early flush was tried since the last fill (and was too small)

    @property
    def busy(self) -> bool:
        return self.horizon_end_ns is not None

    def add(self, fills, now_ns: int) -> list:
        out = self.tick(now_ns)
        if not fills:
            return out
        if self.params.mode == "fill_by_fill":
            for f in fills:
                out += self._flush([f], "fill", drop_small=True)
            return out
        self.last_fill_ns, self.early_tried = now_ns, False
        self.pending.extend(fills)
        if self.horizon_end_ns is None:
            self.horizon_end_ns, self.sent = now_ns + self.params.horizon_ns, 0
            if self.params.after_window:
                self.window_end_ns = now_ns + self.params.quiet_ns
                out += self.tick(now_ns)  # a window of 0 ms closes at once
            else:
                out += self._flush_pending("leading", drop_small=False)
        return out

    def tick(self, now_ns: int) -> list:
        if self.horizon_end_ns is None:
            return []
        if now_ns >= self.horizon_end_ns:
            return self.flush_all()
        if self.window_end_ns is not None:
            if now_ns < self.window_end_ns:
                return []
            self.window_end_ns = None
            return self._flush_pending("leading", drop_small=False)
        if self.pending and self._early_allowed() and now_ns - self.last_fill_ns >= self.params.quiet_ns:
            out = self._flush_pending("trailing", drop_small=False)
            self.early_tried = not out
            return out
        return []

    def flush_all(self) -> list:
        """End the burst now (horizon end, or the actor is exiting): nothing pending is kept."""
        out = self._flush_pending("trailing", drop_small=True) if self.pending else []
        self.horizon_end_ns, self.window_end_ns, self.sent, self.pending = None, None, 0, []
        return out

    def next_due_ns(self) -> int | None:
        """When `tick` may next have something to do."""
        if self.horizon_end_ns is None:
            return None
        due = self.horizon_end_ns
        if self.window_end_ns is not None:
            return min(due, self.window_end_ns)
        if self.pending and self._early_allowed() and not self.early_tried:
            due = min(due, self.last_fill_ns + self.params.quiet_ns)
        return due

    # ------------------------------------------------------------ internals

    def _early_allowed(self) -> bool:
        return self.params.net_opposite and self.sent + 1 < MAX_ORDERS_PER_HORIZON

    def _flush_pending(self, reason: str, drop_small: bool) -> list:
        out = self._flush(self.pending, reason, drop_small)
        if out:
            self.pending = []
            self.sent += sum(1 for a in out if isinstance(a, Emit))
        return out

    def _flush(self, fills, reason: str, drop_small: bool) -> list:
        """Emit every piece that can trade; if one cannot, drop it (drop_small) or keep all (empty)."""
        sized = []
        for pc in net_fills(fills, self.params.net_opposite):
            size = size_order(pc.source_size, pc.source_price, self.sizing, pc.side)
            why = "netted_out" if pc.source_size == 0 else untradable_reason(size, pc.source_price, self.sizing)
            if why and not drop_small:
                return []
            sized.append(Drop(pc, size, why) if why else Emit(pc, size, reason))
        return sized
