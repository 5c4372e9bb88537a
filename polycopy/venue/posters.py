"""The `Poster` port: the one step that differs between modes. Everything before it (pricing,
sizing, signing, journaling) is the same code in dry_run, paper and live.

    post(signed, plan, book) -> PostResult
    lookup(order_id, row) -> VenueOrder | None      (raises TemporaryError when unsure)
    can_repost: may an order that the venue does not know be sent again (same bytes)?
"""
from __future__ import annotations

from decimal import Decimal

from loguru import logger

from polycopy.venue.paper import PaperPoster
from polycopy.venue import clob
from polycopy.wire.clob import PostResult, VenueOrder, dec, parse_post

__all__ = ["DryRunPoster", "LivePoster", "PaperPoster"]


class LivePoster:
    mode = "live"
    can_repost = True

    def __init__(self, rest, owner: str):
        self.rest = rest
        self.owner = owner  # the API key (the POST body's `owner`)

    def post(self, signed: clob.SignedOrder, plan, book=None) -> PostResult:
        status, headers, data = self.rest.post_order(clob.post_body(signed, self.owner))
        return parse_post(status, headers, data, cap=plan.notional + plan.size)

    def lookup(self, order_id: str, row: dict) -> VenueOrder | None:
        found = self.rest.get_order(order_id)
        if found is not None:
            return found
        trades = self.rest.trades_for_order(order_id, row.get("condition_id", ""))
        if not trades:
            return None
        size = sum((_my_size(t, order_id) for t in trades), Decimal(0))
        return VenueOrder(order_id=order_id, status="MATCHED", original_size=row["size"], size_matched=size,
                          price=row["price"], trade_ids=tuple(t.get("id", "") for t in trades))


def _my_size(trade: dict, order_id: str) -> Decimal:
    if trade.get("taker_order_id") == order_id:
        return dec(trade.get("size"))
    return sum((dec(m.get("matched_amount")) for m in trade.get("maker_orders") or () if m.get("order_id") == order_id),
               Decimal(0))


class DryRunPoster:
    """Logs the order it would send; nothing leaves the process."""

    mode = "dry_run"
    can_repost = False

    def post(self, signed: clob.SignedOrder, plan, book=None) -> PostResult:
        logger.info("dry run: would post {} {} {} @ {} ({} pUSD) order {}", plan.order_type, plan.side, plan.size,
                    plan.price, plan.notional, signed.order_id)
        return PostResult(kind="dry_run", reason="dry_run", order_id=signed.order_id)

    def lookup(self, order_id: str, row: dict) -> VenueOrder | None:
        return None

