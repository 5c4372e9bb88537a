"""CLOB websocket events (PROTOCOL.md §2): the user channel's trades and the market channel's
book changes. Pure: no I/O.

The wire is flat JSON with an `event_type`, one object or an array of them. `PONG` and other
non-JSON text are keep-alives. A frame that is not JSON raises `Malformed`; inside a frame,
each event parses on its own: a bad one becomes a `Malformed` in the `bad` list and costs no
good one. Events we do not use (`order`, `last_trade_price`, ...) are skipped, not counted.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from polycopy.errors import Malformed
from polycopy.wire import fields as f
from polycopy.wire.clob import trade_status
from polycopy.wire.jsontext import each_row, excerpt, loads, loads_rows

MAX_FRAME_BYTES = 8 * 1024 * 1024  # an initial book dump for many tokens is one array
MAX_DEPTH = 8
MAX_LEVELS = 10_000
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class UserTrade:
    """A `trade` event on the user channel: one trade of ours, at one point of its life."""

    trade_id: str
    status: str  # MATCHED, MINED, RETRYING, CONFIRMED, FAILED (no TRADE_STATUS_ prefix)
    taker_order_id: str = ""
    maker_order_ids: tuple = ()

    @property
    def order_ids(self) -> tuple:
        return (self.taker_order_id, *self.maker_order_ids) if self.taker_order_id else self.maker_order_ids


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    token_id: str
    bids: tuple  # (price, size)
    asks: tuple
    tick_size: Decimal | None
    min_order_size: Decimal | None


@dataclass(frozen=True, slots=True)
class LevelChange:
    token_id: str
    side: str  # BUY = bids, SELL = asks
    price: Decimal
    size: Decimal  # the level's new total; 0 removes it


@dataclass(frozen=True, slots=True)
class TickSizeChange:
    token_id: str
    tick_size: Decimal


def _events(text) -> list | None:
    """The frame's event objects; None for a keep-alive. Raises Malformed."""
    if not isinstance(text, str):
        raise Malformed("binary", "binary frame", excerpt(text))
    s = text.strip()
    if not s or s[0] not in "{[":
        return None  # PONG
    if s[0] == "[":
        return loads_rows(s, None, max_bytes=MAX_FRAME_BYTES, max_depth=MAX_DEPTH)[1]
    return [loads(s, max_bytes=MAX_FRAME_BYTES, max_depth=MAX_DEPTH)]


def _each(items: list, parse) -> tuple[list, list]:
    """Each event through `parse` (None: skipped; a list: several events), in the wire's order."""
    parsed, bad = each_row(items, lambda e: parse(f.obj(e, "event")))
    out = []
    for p in parsed:
        if isinstance(p, list):
            out.extend(p)
        elif p is not None:
            out.append(p)
    return out, bad


def _user_event(e: dict) -> UserTrade | None:
    if e.get("event_type") != "trade":
        return None
    makers = e.get("maker_orders") or []
    if not isinstance(makers, list):
        raise Malformed("maker_orders", "not a list")
    return UserTrade(trade_id=f.text(e.get("id"), "id", 200), status=trade_status(f.opt_text(e.get("status"), "status", 60)),
                     taker_order_id=f.opt_text(e.get("taker_order_id"), "taker_order_id", 200),
                     maker_order_ids=tuple(f.text(f.obj(m, "maker_orders").get("order_id"), "order_id", 200)
                                           for m in makers[:1000]))


def parse_user_frame(text) -> tuple[list, list] | None:
    """(UserTrade events, Malformed events) of one user-channel frame; None for a keep-alive."""
    items = _events(text)
    return None if items is None else _each(items, _user_event)


def _levels(raw, field: str) -> tuple:
    if not isinstance(raw, list) or len(raw) > MAX_LEVELS:
        raise Malformed(field, "not a list of levels")
    out = []
    for x in raw:
        x = f.obj(x, field)
        p, s = f.decimal(x.get("price"), "price", 0, ONE), f.decimal(x.get("size"), "size", 0, Decimal(10) ** 12)
        if p > 0 and s > 0:
            out.append((p, s))
    return tuple(out)


def _tick(raw, field: str) -> Decimal | None:
    return None if raw in (None, "") else f.decimal(raw, field, Decimal("0.0001"), Decimal("0.1"))


def _market_event(e: dict):
    kind = e.get("event_type")
    if kind == "book":
        return BookSnapshot(token_id=f.token_id(e.get("asset_id"), "asset_id"), bids=_levels(e.get("bids"), "bids"),
                            asks=_levels(e.get("asks"), "asks"), tick_size=_tick(e.get("tick_size"), "tick_size"),
                            min_order_size=None if e.get("min_order_size") in (None, "") else
                            f.decimal(e["min_order_size"], "min_order_size", 0, Decimal(10) ** 6))
    if kind == "price_change":
        changes = e.get("price_changes")
        if not isinstance(changes, list) or len(changes) > MAX_LEVELS:
            raise Malformed("price_changes", "not a list")
        return [LevelChange(token_id=f.token_id(c.get("asset_id"), "asset_id"), side=f.side(c.get("side")),
                            price=f.decimal(c.get("price"), "price", 0, ONE),
                            size=f.decimal(c.get("size"), "size", 0, Decimal(10) ** 12))
                for c in (f.obj(c, "price_changes") for c in changes)]
    if kind == "tick_size_change":
        tick = _tick(e.get("new_tick_size"), "new_tick_size")
        return TickSizeChange(token_id=f.token_id(e.get("asset_id"), "asset_id"), tick_size=tick) if tick else None
    return None


def parse_market_frame(text) -> tuple[list, list] | None:
    """(book events, Malformed events) of one market-channel frame; None for a keep-alive.
    A `price_change` yields one LevelChange per level; the list keeps the wire's order."""
    items = _events(text)
    return None if items is None else _each(items, _market_event)
