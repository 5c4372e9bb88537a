"""Paper trading: fill an order against the current book, level by level, and keep a portfolio.

A BUY takes asks from the lowest price up to its limit, a SELL takes bids from the highest
down; FAK keeps what it got, FOK needs the whole size or nothing. Our own paper fills do not
consume the venue's book (each order sees the book as fetched).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from polycopy.venue.orders import Level, OrderPlan
from polycopy.wire.clob import Book, PostResult, VenueOrder


def walk(*, side: str, levels, limit: Decimal, size: Decimal) -> list[tuple[Decimal, Decimal]]:
    """[(price, shares)] taken from `levels` (best first) within `limit`, up to `size` shares."""
    fills, left = [], size
    for lv in levels:
        if left <= 0 or (side == "BUY" and lv.price > limit) or (side == "SELL" and lv.price < limit):
            break
        take = min(lv.size, left)
        fills.append((lv.price, take))
        left -= take
    return fills


@dataclass
class PaperPortfolio:
    shares: dict = field(default_factory=dict)  # token -> shares held
    cost: dict = field(default_factory=dict)  # token -> pUSD paid (net of sales)
    cash: Decimal = Decimal(0)  # pUSD in (+) and out (-)

    def apply(self, token_id: str, side: str, fills) -> None:
        qty = sum((s for _, s in fills), Decimal(0))
        usd = sum((p * s for p, s in fills), Decimal(0))
        sign = 1 if side == "BUY" else -1
        self.shares[token_id] = self.shares.get(token_id, Decimal(0)) + sign * qty
        self.cost[token_id] = self.cost.get(token_id, Decimal(0)) + sign * usd
        self.cash -= sign * usd


class PaperPoster:
    """The `Poster` for paper mode."""

    mode = "paper"
    can_repost = False  # a paper order lost in a crash is not re-filled

    def __init__(self, portfolio: PaperPortfolio | None = None):
        self.portfolio = portfolio or PaperPortfolio()
        self.orders: dict[str, VenueOrder] = {}

    def post(self, signed, plan: OrderPlan, book: Book) -> PostResult:
        if signed.order_id in self.orders:
            return PostResult(kind="duplicate", reason="duplicated", order_id=signed.order_id)
        levels = book.asks if plan.side == "BUY" else book.bids
        fills = walk(side=plan.side, levels=levels, limit=plan.price, size=plan.size)
        got = sum((s for _, s in fills), Decimal(0))
        if not fills or (plan.order_type == "FOK" and got < plan.size):
            reason = "fok_not_filled" if plan.order_type == "FOK" and fills else "fak_no_match"
            return PostResult(kind="rejected", reason=reason, error="paper: no fill", order_id=signed.order_id)
        usd = sum((p * s for p, s in fills), Decimal(0))
        self.portfolio.apply(plan.token_id, plan.side, fills)
        self.orders[signed.order_id] = VenueOrder(order_id=signed.order_id, status="MATCHED", original_size=plan.size,
                                                  size_matched=got, price=plan.price, trade_ids=())
        making, taking = (usd, got) if plan.side == "BUY" else (got, usd)
        return PostResult(kind="accepted", status="matched", order_id=signed.order_id, making=making, taking=taking)

    def lookup(self, order_id: str, row: dict) -> VenueOrder | None:
        return self.orders.get(order_id)


def book_of(asks=(), bids=(), tick=Decimal("0.01"), min_size=Decimal("5")) -> Book:
    """A Book from (price, size) pairs, for tests and scripted paper runs."""
    lv = lambda pairs, rev: tuple(sorted((Level(Decimal(p), Decimal(s)) for p, s in pairs),  # noqa: E731
                                         key=lambda x: x.price, reverse=rev))
    return Book(asks=lv(asks, False), bids=lv(bids, True), tick_size=tick, min_order_size=min_size, neg_risk=False)
