"""CLOB REST answers -> small frozen results (PROTOCOL.md §5.3-5.7, CLOB-V2.md §4.2). Pure: no I/O.

Total: whatever the body holds, each parser returns its result (a number it cannot read is
the default, a level it cannot read is dropped) or None; never an exception.

`PostResult.kind` tells the caller what to do:
  accepted     the venue has the order (live/matched/delayed/unmatched)
  rejected     a definite no, with a reason code; nothing was placed
  duplicate    the venue says it already has this order: look it up by hash
  retry_later  425 / 429 / 503: not placed; wait `retry_after_s` before re-posting the same bytes
  unknown      timeout, connection loss after sending, or a 5xx: look it up by hash
Error texts are matched on substrings (the wording changes between venue versions).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from polycopy.errors import Malformed
from polycopy.venue.orders import Level
from polycopy.wire import fields as f
from polycopy.wire.http import retry_after_s

ACCEPTED_STATUSES = ("live", "matched", "delayed", "unmatched")
# substring of the error text -> reason code (first match wins)
ERROR_TABLE: tuple[tuple[str, str], ...] = (
    ("duplicated", "duplicated"),
    ("fok orders are fully filled or killed", "fok_not_filled"),
    ("fok orders are filled or killed", "fok_not_filled"),
    ("no orders found to match with fak", "fak_no_match"),
    ("there are no matching orders", "fak_no_match"),
    ("not enough balance", "balance"),
    ("allowance is not enough", "balance"),
    ("breaks minimum tick size", "off_tick"),
    ("lower than the minimum", "below_min_size"),
    ("min size: $1", "below_min_notional"),
    ("max accuracy", "amount_precision"),
    ("maker address not allowed", "maker_not_allowed"),
    ("signer address has to be the address of the api key", "signer_not_api_key"),
    ("owner has to be the owner of the api key", "owner_not_api_key"),
    ("invalid signature", "invalid_signature"),
    ("order_version_mismatch", "version_mismatch"),
    ("invalid order version", "version_mismatch"),
    ("not yet ready", "market_not_ready"),
    ("closed only mode", "closed_only"),
    ("restricted in your region", "region_restricted"),  # 403 (VENUE-2026-12.md §5)
    ("banned", "banned"),
    ("crosses book", "crosses_book"),
    ("invalid expiration", "invalid_expiration"),
    ("no orderbook exists", "no_orderbook"),
    ("market not found", "market_not_found"),
    ("unauthorized", "auth"),
    ("invalid api key", "auth"),
    ("invalid l1 request headers", "auth"),
    ("invalid order payload", "invalid_payload"),
)


@dataclass(frozen=True, slots=True)
class PostResult:
    kind: str
    reason: str = ""  # short code
    status: str = ""  # venue status for accepted orders
    order_id: str = ""
    error: str = ""  # the venue's text (never contains secrets)
    retry_after_s: float | None = None
    making: Decimal = Decimal(0)
    taking: Decimal = Decimal(0)
    trade_ids: tuple = ()
    http_status: int | None = None


def reason_for(error: str) -> str:
    low = error.lower()
    return next((code for needle, code in ERROR_TABLE if needle in low), "rejected")


def dec(raw, default: Decimal | None = Decimal(0)) -> Decimal | None:
    """A bounded Decimal from a JSON number or numeric string; `default` for anything else."""
    try:
        return f.decimal(raw, "amount")
    except Malformed:
        return default


def amount(raw, cap: Decimal | None = None) -> Decimal:
    """Human units; integer strings larger than any plausible human amount are 6-dp fixed point."""
    value = dec(raw)
    if cap is not None and value > cap * 2 and "." not in str(raw):
        value = value / Decimal(10) ** 6
    return value


def _retry_after(headers, body: dict, default: float) -> float:
    for raw in ((headers or {}).get("Retry-After"), body.get("retry_after_seconds")):
        seconds = retry_after_s(raw)
        if seconds is not None:
            return seconds
    return default


def _ids(raw) -> tuple:
    """A list of id strings (trade ids, order ids); anything else is no ids."""
    return tuple(x for x in raw if isinstance(x, str))[:1000] if isinstance(raw, list) else ()


def parse_post(http_status: int | None, headers=None, body=None, *, cap: Decimal | None = None) -> PostResult:
    """`http_status` None means the request may have been sent but no answer came back."""
    if http_status is None:
        return PostResult(kind="unknown", reason="timeout")
    body = body if isinstance(body, dict) else {}
    error = str(body.get("error") or body.get("errorMsg") or body.get("error_msg") or "")[:300]
    if http_status == 200 and body.get("success", True) and not body.get("errorMsg"):
        status = str(body.get("status", "")).lower()
        order_id = str(body.get("orderID") or body.get("orderId") or "")
        if status in ACCEPTED_STATUSES and order_id:
            return PostResult(kind="accepted", status=status, order_id=order_id, http_status=200,
                              making=amount(body.get("makingAmount"), cap), taking=amount(body.get("takingAmount"), cap),
                              trade_ids=_ids(body.get("tradeIDs")))
        return PostResult(kind="unknown", reason="unexpected_response", error=error or str(body)[:200], http_status=200)
    if http_status == 425:
        return PostResult(kind="retry_later", reason="engine_restart", error=error, http_status=425,
                          retry_after_s=_retry_after(headers, body, 5.0))
    if http_status == 429:
        return PostResult(kind="retry_later", reason="rate_limited", error=error, http_status=429,
                          retry_after_s=_retry_after(headers, body, 1.0))
    if http_status == 503:
        low = error.lower()
        reason = ("post_only_mode" if "post-only" in low or body.get("code") == "post_only_mode"
                  else "cancel_only" if "cancel-only" in low else "trading_disabled")
        return PostResult(kind="retry_later", reason=reason, error=error, http_status=503,
                          retry_after_s=_retry_after(headers, body, 10.0))
    if http_status >= 500:
        return PostResult(kind="unknown", reason="server_error", error=error, http_status=http_status)
    reason = reason_for(error) if error else f"http_{http_status}"
    kind = "duplicate" if reason == "duplicated" else "rejected"
    return PostResult(kind=kind, reason=reason, error=error, http_status=http_status,
                      order_id=str(body.get("orderID") or ""))


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """GET /data/order/{id}: the venue's view of one of our orders."""

    order_id: str
    status: str  # normalised: LIVE, MATCHED, CANCELED, ... (no ORDER_STATUS_ prefix)
    original_size: Decimal
    size_matched: Decimal
    price: Decimal
    trade_ids: tuple


def parse_order(body) -> VenueOrder | None:
    """None when the venue does not know the order (null / empty body)."""
    if not isinstance(body, dict) or not body.get("id") or not isinstance(body["id"], str):
        return None
    original = dec(body.get("original_size"))
    return VenueOrder(order_id=body["id"][:200], status=str(body.get("status", ""))[:60].upper().removeprefix("ORDER_STATUS_"),
                      original_size=original, size_matched=amount(body.get("size_matched"), original or None),
                      price=dec(body.get("price")), trade_ids=_ids(body.get("associate_trades")))


def trade_status(raw) -> str:
    return str(raw or "")[:60].upper().removeprefix("TRADE_STATUS_")


@dataclass(frozen=True, slots=True)
class Book:
    asks: tuple  # Level, best (lowest) first
    bids: tuple  # Level, best (highest) first
    tick_size: Decimal | None
    min_order_size: Decimal | None
    neg_risk: bool | None


def parse_book(body) -> Book:
    """GET /book: the venue lists bids ascending and asks descending (best last); we sort."""
    body = body if isinstance(body, dict) else {}

    def levels(raw):
        rows = raw if isinstance(raw, list) else ()
        out = [Level(dec(x.get("price")), dec(x.get("size"))) for x in rows if isinstance(x, dict)]
        return [lv for lv in out if lv.price > 0 and lv.size > 0]

    nr = body.get("neg_risk")
    return Book(asks=tuple(sorted(levels(body.get("asks")), key=lambda lv: lv.price)),
                bids=tuple(sorted(levels(body.get("bids")), key=lambda lv: -lv.price)),
                tick_size=dec(body.get("tick_size"), None), min_order_size=dec(body.get("min_order_size"), None),
                neg_risk=nr if isinstance(nr, bool) else None)


def parse_tick_size(body) -> Decimal | None:
    """GET /tick-size: the market's tick; None if the CLOB gave none. Raises Malformed for a tick
    no market uses."""
    raw = body.get("minimum_tick_size") if isinstance(body, dict) else None
    if raw is None:
        return None
    return f.decimal(raw, "minimum_tick_size", Decimal("0.0001"), Decimal("0.1"))


def parse_midpoint(body) -> Decimal | None:
    """GET /midpoint: the mid price in (0, 1), or None."""
    mid = dec(body.get("mid"), None) if isinstance(body, dict) else None
    return mid if mid is not None and 0 < mid < 1 else None
