"""Profit and loss of one wallet in one market, and the tracking error against the source. Pure.

Inputs per market (`Dealings`): the wallet's trades (pUSD paid or received, fees apart),
redemption payouts, merges and splits (each pair of outcome shares is worth exactly 1 pUSD),
and, when the venue says so, what it holds now. A mark per token prices what is held: the
payout once the market has resolved, else the latest price.

    total      = proceeds + redeemed + merged + value held - cost - split - fees
    realised   = sales and merges against the average cost of what they took away, minus fees;
                 a resolved market is realised whole (its value no longer moves: what is not
                 redeemed yet is money owed, shown as `unredeemed`)
    unrealised = total - realised (held shares at their mark against their average cost)

Tracking error = our total - the source's total x our size ratio: what latency, slippage, caps
and refusals cost (or earned) against copying the source exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal

ZERO = Decimal(0)
HALF = Decimal("0.5")
CENT = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Trade:
    token_id: str
    side: str  # BUY | SELL
    shares: Decimal
    notional: Decimal  # pUSD paid (BUY) or received (SELL), fees apart
    fee: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Dealings:
    """One wallet in one market."""

    trades: tuple = ()
    redeemed_usd: Decimal = ZERO  # pUSD received from redemptions
    merged_usd: Decimal = ZERO  # pUSD from merges = pairs merged
    split_usd: Decimal = ZERO  # pUSD paid for splits = pairs made
    held: dict | None = None  # token -> shares held now, as the venue says; None: from the trades


@dataclass(frozen=True, slots=True)
class Pnl:
    cost: Decimal = ZERO
    proceeds: Decimal = ZERO
    fees: Decimal = ZERO
    redeemed: Decimal = ZERO
    merged: Decimal = ZERO
    value: Decimal = ZERO  # held shares at their marks
    unredeemed: Decimal = ZERO  # of `value`: payouts of a resolved market not collected yet
    realised: Decimal = ZERO
    unrealised: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.realised + self.unrealised

    def __add__(self, other: "Pnl") -> "Pnl":
        return Pnl(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(Pnl)})

    def as_dict(self) -> dict:
        out = {f.name: str(q(getattr(self, f.name))) for f in fields(Pnl)}
        out["total"] = str(q(self.total))
        return out


def q(x: Decimal) -> Decimal:
    return x.quantize(CENT)


@dataclass(slots=True)
class _Token:
    bought: Decimal = ZERO
    cost: Decimal = ZERO
    sold: Decimal = ZERO
    proceeds: Decimal = ZERO

    def avg(self) -> Decimal:
        return self.cost / self.bought if self.bought else ZERO


def pnl(d: Dealings, marks: dict, resolved: bool, tokens: tuple = ()) -> Pnl:
    """`marks`: token -> price (the payout when `resolved`); a token held without a mark is valued
    at its average cost (no gain shown rather than a guessed one). `tokens`: the market's outcome
    tokens, needed only for merges and splits (they touch every outcome)."""
    per: dict[str, _Token] = {}
    fees = ZERO
    for t in d.trades:
        k = per.setdefault(t.token_id, _Token())
        fees += t.fee
        if t.side == "BUY":
            k.bought += t.shares
            k.cost += t.notional
        else:
            k.sold += t.shares
            k.proceeds += t.notional
    pairs = list(tokens) or list(per)
    split_pairs, merged_pairs = d.split_usd, d.merged_usd
    for tok in pairs:  # a split buys one share of each outcome at half a pUSD each (for the average)
        k = per.setdefault(tok, _Token())
        k.bought += split_pairs
        k.cost += split_pairs * HALF
    held = {}
    for tok, k in per.items():
        mine = k.bought - k.sold - (merged_pairs if tok in pairs else ZERO)
        held[tok] = d.held.get(tok, ZERO) if d.held is not None else max(mine, ZERO)
    if d.held is not None:
        held.update({tok: s for tok, s in d.held.items() if tok not in held})
    value = sum((s * marks.get(tok, per[tok].avg() if tok in per else ZERO) for tok, s in held.items()), ZERO)
    cost = sum((k.cost for k in per.values()), ZERO) - split_pairs * HALF * len(pairs)
    proceeds = sum((k.proceeds for k in per.values()), ZERO)
    total = proceeds + d.redeemed_usd + d.merged_usd + value - cost - d.split_usd - fees
    base = Pnl(cost=cost, proceeds=proceeds, fees=fees, redeemed=d.redeemed_usd, merged=d.merged_usd, value=value)
    if resolved:
        return _with(base, realised=total, unrealised=ZERO, unredeemed=value)
    realised = sum((k.proceeds - k.avg() * k.sold for k in per.values()), ZERO) - fees
    realised += d.merged_usd - merged_pairs * sum((per[tok].avg() for tok in pairs if tok in per), ZERO)
    return _with(base, realised=realised, unrealised=total - realised)


def _with(p: Pnl, **changes) -> Pnl:
    return Pnl(**{f.name: changes.get(f.name, getattr(p, f.name)) for f in fields(Pnl)})


@dataclass(frozen=True, slots=True)
class MarketPnl:
    condition_id: str
    ours: Pnl
    source: Pnl
    ratio: Decimal
    resolved: bool = False
    slug: str = ""

    @property
    def tracking_error(self) -> Decimal:
        return self.ours.total - self.source.total * self.ratio


@dataclass(frozen=True, slots=True)
class Totals:
    ours: Pnl = field(default_factory=Pnl)
    source: Pnl = field(default_factory=Pnl)
    tracking_error: Decimal = ZERO
    markets: int = 0


def totals(rows) -> Totals:
    ours, source, te, n = Pnl(), Pnl(), ZERO, 0
    for r in rows:
        ours, source, te, n = ours + r.ours, source + r.source, te + r.tracking_error, n + 1
    return Totals(ours=ours, source=source, tracking_error=te, markets=n)


def taker_fee(shares: Decimal, price: Decimal, rate_bps: int) -> Decimal:
    """The venue's taker fee, shares x rate x p(1-p) (exponent 1, PROTOCOL §6.6); 0 without a rate."""
    return shares * Decimal(rate_bps) / Decimal(10_000) * price * (1 - price) if rate_bps else ZERO
