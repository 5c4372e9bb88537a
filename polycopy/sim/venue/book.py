"""One token's order book: resting orders in price-time priority, and fill planning.

Scenario liquidity (`set_book`) rests as orders with `owner=None`; API users' GTC/GTD
orders rest beside it. Prices are pUSD per share, sizes are shares (Decimal).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from polycopy.sim.venue.orders import UNIT

_seq = itertools.count()


@dataclass(slots=True)
class Resting:
    order_id: str
    side: str  # "BUY" (bid) | "SELL" (ask)
    price: Decimal
    size: Decimal  # remaining shares
    owner: str | None = None  # API key; None = scenario liquidity
    maker: str | None = None  # funder address
    seq: int = 0

    def __post_init__(self) -> None:
        self.seq = next(_seq)


@dataclass(frozen=True, slots=True)
class Fill:
    resting: Resting
    price: Decimal
    shares: Decimal

    @property
    def cost(self) -> Decimal:
        return (self.price * self.shares).quantize(UNIT)


class Book:
    def __init__(self, token_id: str):
        self.token_id = token_id
        self.bids: list[Resting] = []
        self.asks: list[Resting] = []

    def _side(self, side: str) -> list[Resting]:
        return self.bids if side == "BUY" else self.asks

    def add(self, r: Resting) -> None:
        book = self._side(r.side)
        book.append(r)
        sign = -1 if r.side == "BUY" else 1  # best first: high bids, low asks
        book.sort(key=lambda x: (sign * x.price, x.seq))

    def remove(self, order_id: str) -> Resting | None:
        for book in (self.bids, self.asks):
            for r in book:
                if r.order_id == order_id:
                    book.remove(r)
                    return r
        return None

    def clear_liquidity(self) -> None:
        """Drop scenario liquidity, keep API users' orders."""
        self.bids = [r for r in self.bids if r.owner is not None]
        self.asks = [r for r in self.asks if r.owner is not None]

    def levels(self, side: str) -> list[tuple[Decimal, Decimal]]:
        """Aggregated (price, size) as served: bids ascending, asks descending (best last)."""
        agg: dict[Decimal, Decimal] = {}
        for r in self._side(side):
            agg[r.price] = agg.get(r.price, Decimal(0)) + r.size
        return sorted(agg.items(), reverse=(side == "SELL"))

    def best(self, side: str) -> Decimal | None:
        book = self._side(side)
        return book[0].price if book else None

    def crosses(self, side: str, price: Decimal) -> bool:
        """Would an order on `side` at `price` take liquidity?"""
        best = self.best("SELL" if side == "BUY" else "BUY")
        return best is not None and (best <= price if side == "BUY" else best >= price)

    def plan(self, side: str, limit: Decimal, *, shares: Decimal | None = None,
             budget: Decimal | None = None) -> list[Fill]:
        """Fills for a taker on `side` up to `limit`, by `shares` or by pUSD `budget`.

        Walks the opposite side best-first; nothing is changed (call `apply`).
        """
        fills: list[Fill] = []
        for r in self._side("SELL" if side == "BUY" else "BUY"):
            if (side == "BUY" and r.price > limit) or (side == "SELL" and r.price < limit):
                break
            if shares is not None:
                take = min(r.size, shares)
                shares -= take
            else:
                take = min(r.size, (budget / r.price).quantize(UNIT, rounding=ROUND_DOWN))
                budget -= (take * r.price).quantize(UNIT)
            if take <= 0:
                break
            fills.append(Fill(resting=r, price=r.price, shares=take))
            if (shares is not None and shares <= 0) or (budget is not None and budget <= 0):
                break
        return fills

    def apply(self, fills: list[Fill]) -> None:
        for f in fills:
            f.resting.size -= f.shares
            if f.resting.size <= 0:
                self._side(f.resting.side).remove(f.resting)
