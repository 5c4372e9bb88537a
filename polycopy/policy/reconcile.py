"""Reconciliation: where should we hold what the source holds, and which bounded order gets us
there. Pure Decimal math; the Reconciler actor gathers the inputs and sends the corrections.

target = the source's shares × the sizing policy (`proportional` and `capped_proportional`:
× size_multiplier; the per-order cap bounds each correction, risk's per-market, window and
portfolio caps bound the position). `fixed` sizing has no share ratio: there only a source that
holds nothing gives a target (0), so we follow exits and never top up.

The source's non-trade activity becomes position changes: SPLIT adds its size to every outcome
of the market, MERGE removes it from every outcome, REDEEM empties the market (resolved: never
traded again), CONVERSION (neg-risk) removes the size from the converted outcome. The changes
name the cause of a drift and tell which markets are resolved.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from polycopy.policy.sizing import SizingParams, round_shares, untradable_reason

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Params:
    sizing: SizingParams
    tolerance_shares: Decimal
    max_correction_usd: Decimal
    near_expiry_s: int
    settle_s: float
    adopt_existing: bool = False  # buy positions the source held before we started
    cause_window_s: float = 120.0  # an activity cause names corrections for this long

    @classmethod
    def from_config(cls, config) -> "Params":
        r = config.reconcile
        return cls(SizingParams.from_config(config), r.tolerance_shares, r.max_correction_notional_usd,
                   config.execution.near_expiry_cutoff_seconds, r.settle_s, r.adopt_existing_positions,
                   2 * r.reconcile_interval_s + 60)


@dataclass(frozen=True, slots=True)
class PositionChange:
    token_id: str
    delta: Decimal | None  # None: the position is emptied (REDEEM)
    cause: str  # "split" | "merge" | "redeem" | "conversion"
    timestamp: int


def activity_changes(acts, tokens_of: dict) -> list[PositionChange]:
    """Non-trade activity rows -> per-token position changes. `tokens_of`: condition id -> token ids
    (index 1 is the "No" outcome of a neg-risk market). Rows of unknown markets give nothing."""
    out = []
    for a in acts:
        tokens = tuple(tokens_of.get(a.condition_id, ()))
        if a.type == "SPLIT":
            out += [PositionChange(t, a.size, "split", a.timestamp) for t in tokens]
        elif a.type == "MERGE":
            out += [PositionChange(t, -a.size, "merge", a.timestamp) for t in tokens]
        elif a.type == "REDEEM":
            out += [PositionChange(t, None, "redeem", a.timestamp) for t in tokens]
        elif a.type == "CONVERSION":
            token = a.token_id or (tokens[1] if len(tokens) == 2 else "")
            if token:
                out.append(PositionChange(token, -a.size, "conversion", a.timestamp))
    return out


def apply_changes(sizes: dict, changes) -> dict:
    """Positions after the changes, oldest first (never below zero)."""
    out = dict(sizes)
    for c in sorted(changes, key=lambda c: c.timestamp):
        out[c.token_id] = ZERO if c.delta is None else max(ZERO, out.get(c.token_id, ZERO) + c.delta)
    return out


def target_shares(source: Decimal, sizing: SizingParams) -> Decimal | None:
    """Our target position for `source` shares, or None when the policy has no opinion."""
    if source <= 0:
        return ZERO
    if sizing.mode == "fixed":
        return None
    return round_shares(source * sizing.size_multiplier)


@dataclass(frozen=True, slots=True)
class TokenView:
    """Everything the reconciler knows about one token this round."""

    token_id: str
    condition_id: str
    source: Decimal  # the source's shares
    ours: Decimal  # our shares
    price: Decimal  # current price (0 = unknown)
    end_ts: int = 0  # market end, unix s (0 = unknown)
    accepting_orders: bool = True
    resolved: bool = False  # redeemable / redeemed
    min_order_size: Decimal | None = None
    tick_size: Decimal | None = None
    last_source_trade_ts: int = 0  # unix s
    ours_changed: bool = False  # our position moved since the last round
    pending: bool = False  # a correction of ours is still in flight
    tracked: bool = True  # False: a position the source held before we started (not adopted)
    cause: str = ""  # activity cause since the last round ("merge", ...)
    slug: str = ""
    refused: dict | None = None  # side -> the standing reason a copy of that side was refused with (store/refusals.py)


@dataclass(frozen=True, slots=True)
class Correction:
    token_id: str
    condition_id: str
    side: str  # "BUY" | "SELL"
    size: Decimal
    price: Decimal
    target: Decimal
    source: Decimal
    ours: Decimal
    cause: str
    end_ts: int
    slug: str = ""

    @property
    def opening(self) -> bool:
        return self.side == "BUY"


@dataclass(frozen=True, slots=True)
class Skip:
    token_id: str
    reason: str
    drift: Decimal = ZERO


def plan(view: TokenView, now_s: float, p: Params) -> Correction | Skip | None:
    """The correction for one token, a Skip with its reason, or None when it is in line."""
    v = view
    target = target_shares(v.source, p.sizing)
    if target is None:
        return None  # fixed sizing while the source holds: no share target
    drift = target - v.ours
    if abs(drift) <= p.tolerance_shares:
        return None
    if v.resolved or not v.accepting_orders:
        return Skip(v.token_id, "market_closed", drift)
    if not v.end_ts:
        return Skip(v.token_id, "market_end_unknown", drift)
    if v.end_ts - now_s < p.near_expiry_s:
        return Skip(v.token_id, "market_ended" if v.end_ts <= now_s else "near_expiry", drift)
    if drift > 0 and not v.tracked:
        return Skip(v.token_id, "not_tracked", drift)
    if v.pending:
        return Skip(v.token_id, "correction_pending", drift)
    if now_s - v.last_source_trade_ts < p.settle_s:
        return Skip(v.token_id, "source_trading", drift)  # the copy path may still be on it
    if v.ours_changed:
        return Skip(v.token_id, "ours_moving", drift)
    if not (ZERO < v.price < 1):
        return Skip(v.token_id, "no_price", drift)
    side = "BUY" if drift > 0 else "SELL"
    if v.refused and side in v.refused:  # a copy the venue or risk refused for good: not a missed fill
        return Skip(v.token_id, f"refused:{v.refused[side]}", drift)
    sizing = p.sizing if v.min_order_size is None else replace(p.sizing, min_order_size_shares=v.min_order_size)
    sizing = sizing if v.tick_size is None else replace(sizing, tick_size=v.tick_size)
    cap = p.max_correction_usd / sizing.notional_per_share(v.price)
    size = round_shares(min(abs(drift), cap, v.ours if side == "SELL" else abs(drift)))
    if why := untradable_reason(size, v.price, sizing):
        return Skip(v.token_id, why, drift)
    cause = v.cause or ("missed_fill" if side == "BUY" else "source_reduced")
    return Correction(v.token_id, v.condition_id, side, size, v.price, target, v.source, v.ours, cause,
                      v.end_ts, v.slug)
