"""Risk rules and the exposure book. Pure: the Risk actor owns one book, persists its entries and
sends what `decide` says.

Exposure is counted in notional at the worst price the executor may pay (policy/limits.py).
An approved intent *reserves* that notional; the executor's OrderOutcome *settles* it to what
was really filled (0 for a rejection); an unknown outcome keeps the reservation. Caps compare
reserved + settled against the limit, so no interleaving of intents and outcomes can pass one.

What each cap counts:
- per order: this intent's notional (both sides);
- per market (condition id), per 15-minute window (markets whose end falls in the same window)
  and portfolio (markets not yet ended): the notional of *opening* intents (BUY). Closing
  trades reduce risk and never free room: the caps are gross, which can only err on the safe side;
- daily volume (UTC day of the approval): every intent, both sides.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from polycopy.policy.markets import window_start
from polycopy.policy.sizing import SizingParams, round_shares, untradable_reason

DAY_S = 86_400
ZERO = Decimal(0)
OPEN, UNKNOWN, SETTLED = "open", "unknown", "settled"


def utc_day(ts: float) -> int:
    return int(ts // DAY_S)


@dataclass(frozen=True, slots=True)
class Limits:
    max_order_usd: Decimal
    max_market_usd: Decimal
    max_window_usd: Decimal
    max_daily_usd: Decimal
    max_portfolio_usd: Decimal
    near_expiry_s: int
    clip_to_room: bool
    blacklist_markets: frozenset
    blacklist_outcomes: frozenset
    sizing: SizingParams

    @classmethod
    def from_config(cls, config) -> "Limits":
        s, r = config.sizing, config.risk
        return cls(
            s.max_notional_per_order_usd, s.max_notional_per_market_usd, s.max_total_notional_per_15m_window_usd,
            r.max_daily_volume_usd, r.max_portfolio_notional_usd, config.execution.near_expiry_cutoff_seconds,
            r.clip_to_room, frozenset(r.blacklist_markets), frozenset(r.blacklist_outcomes), SizingParams.from_config(config),
        )


@dataclass(slots=True)
class Entry:
    """The exposure of one approved intent."""

    intent_id: str
    token_id: str
    condition_id: str
    side: str
    opening: bool
    end_ts: int  # 0 = unknown (closing intents only)
    window: int  # window_start(end_ts), 0 when unknown
    day: int  # UTC day of the approval
    reserved_usd: Decimal
    filled_usd: Decimal = ZERO
    state: str = OPEN  # open | unknown | settled

    def counted(self) -> Decimal:
        return self.filled_usd if self.state == SETTLED else max(self.reserved_usd, self.filled_usd)


@dataclass(slots=True)
class ExposureBook:
    entries: dict = field(default_factory=dict)  # intent id -> Entry
    market: dict = field(default_factory=dict)  # condition id -> opening notional
    market_end: dict = field(default_factory=dict)  # condition id -> end ts
    window: dict = field(default_factory=dict)  # window start -> opening notional
    daily: dict = field(default_factory=dict)  # utc day -> notional

    def add(self, e: Entry) -> None:
        self.entries[e.intent_id] = e
        if e.opening:
            self.market_end[e.condition_id] = max(self.market_end.get(e.condition_id, 0), e.end_ts)
        self._count(e, e.counted())

    def settle(self, intent_id: str, status: str, filled_usd: Decimal) -> Entry | None:
        """Apply an OrderOutcome. filled/partial -> what filled; rejected/not_sent -> 0; else keep."""
        e = self.entries.get(intent_id)
        if e is None:
            return None
        before = e.counted()
        if status in ("filled", "partial"):
            e.state, e.filled_usd = SETTLED, filled_usd
        elif status in ("rejected", "not_sent"):
            e.state, e.filled_usd = SETTLED, ZERO
        else:  # unknown (or a status we do not know): keep the reservation until it resolves
            e.state = UNKNOWN if e.state != SETTLED else e.state
        self._count(e, e.counted() - before)
        return e

    def _count(self, e: Entry, delta: Decimal) -> None:
        self.daily[e.day] = self.daily.get(e.day, ZERO) + delta
        if e.opening:
            self.market[e.condition_id] = self.market.get(e.condition_id, ZERO) + delta
            self.window[e.window] = self.window.get(e.window, ZERO) + delta

    def portfolio(self, now_s: float) -> Decimal:
        return sum((v for c, v in self.market.items() if self.market_end.get(c, 0) > now_s), ZERO)


@dataclass(frozen=True, slots=True)
class Decision:
    decision: str  # approved | clipped | rejected
    reason: str
    size: Decimal = ZERO
    notional_usd: Decimal = ZERO
    end_ts: int = 0
    window: int = 0
    day: int = 0

    @property
    def approved(self) -> bool:
        return self.decision != "rejected"


def _reject(reason: str) -> Decision:
    return Decision("rejected", reason)


def _blacklisted(intent, market, lim: Limits) -> str | None:
    if intent.condition_id in lim.blacklist_markets or (market.slug and market.slug in lim.blacklist_markets):
        return "blacklisted_market"
    outcome = market.outcome_of(intent.token_id)
    if intent.token_id in lim.blacklist_outcomes or (outcome and outcome in lim.blacklist_outcomes):
        return "blacklisted_outcome"
    return None


def decide(intent, now_s: float, lim: Limits, book: ExposureBook, kill: bool = False,
           entries_paused: str = "") -> Decision:
    """Approve, clip or reject one CopyIntent. Every outcome carries its reason.

    `entries_paused`: while set (the operator paused entries, or the venue allows this host to close
    positions only), opening intents are refused with this reason; closing ones still go."""
    if kill:
        return _reject("kill_switch")
    if intent.intent_id in book.entries:
        return _reject("duplicate_intent")
    if intent.side not in ("BUY", "SELL") or not (ZERO < intent.source_price < 1) or intent.size <= 0:
        return _reject("invalid_intent")
    market = intent.market
    if market is None:
        return _reject("market_unknown")  # nothing can be priced or signed without its tick and exchange
    if why := _blacklisted(intent, market, lim):
        return _reject(why)
    if not market.accepting_orders:
        return _reject("not_accepting_orders")
    end = int(market.end_ts)
    if intent.opening:
        if entries_paused:
            return _reject(entries_paused)
        if not end:
            return _reject("market_end_unknown")
        if end - now_s < lim.near_expiry_s:
            return _reject("market_ended" if end <= now_s else "near_expiry")
    sizing = replace(lim.sizing, min_order_size_shares=market.min_order_size, tick_size=market.tick_size)
    day, win = utc_day(now_s), window_start(end) if end else 0
    price = sizing.notional_per_share(intent.source_price, intent.side)
    rooms = {"cap_order": lim.max_order_usd, "cap_daily": lim.max_daily_usd - book.daily.get(day, ZERO)}
    if intent.opening:
        rooms["cap_market"] = lim.max_market_usd - book.market.get(intent.condition_id, ZERO)
        rooms["cap_window"] = lim.max_window_usd - book.window.get(win, ZERO)
        rooms["cap_portfolio"] = lim.max_portfolio_usd - book.portfolio(now_s)
    binding = min(rooms, key=lambda k: rooms[k])
    size, decision, reason = round_shares(intent.size), "approved", "ok"
    if size * price > rooms[binding]:
        if not lim.clip_to_room:
            return _reject(binding)
        size, decision, reason = round_shares(max(rooms[binding], ZERO) / price), "clipped", binding
    if why := untradable_reason(size, intent.source_price, sizing):
        return _reject(binding if decision == "clipped" else why)
    return Decision(decision, reason, size, size * price, end, win, day)


def entry_for(intent, d: Decision) -> Entry:
    return Entry(intent.intent_id, intent.token_id, intent.condition_id, intent.side, bool(intent.opening),
                 d.end_ts, d.window, d.day, d.notional_usd)
