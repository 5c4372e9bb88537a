"""Data API `/positions` and `/activity` (PROTOCOL.md §3.1, §3.2): row parsing and a small client.

Rows in the v1 spelling (camelCase, bare arrays, JSON numbers) and the v2 one (snake_case,
`{"data": [...]}` envelope, numbers as strings) parse to the same frozen records. A row that
cannot be read is skipped and counted, never guessed. The client is blocking (`requests`),
busts the CDN cache (§3.3), and is meant for the reconciler's I/O thread.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import requests

from polycopy.errors import RejectedError, TemporaryError
from polycopy.venue.data_api import RETRY_STATUSES, retry_after_s

PAGE = 500  # the v1 maximum for both routes
MAX_OFFSET = 10_000
NON_TRADE = ("SPLIT", "MERGE", "REDEEM", "CONVERSION")


@dataclass(frozen=True, slots=True)
class Position:
    token_id: str
    condition_id: str
    size: Decimal  # shares held
    cur_price: Decimal
    avg_price: Decimal
    slug: str = ""
    outcome: str = ""
    redeemable: bool = False  # the market has resolved


@dataclass(frozen=True, slots=True)
class Activity:
    type: str  # TRADE | SPLIT | MERGE | REDEEM | CONVERSION | ...
    condition_id: str
    size: Decimal  # shares (for SPLIT/MERGE: of each outcome)
    timestamp: int  # unix s (block time)
    tx_hash: str = ""
    token_id: str = ""  # "" for SPLIT/MERGE/REDEEM (market-wide)
    side: str = ""
    price: Decimal = Decimal(0)
    slug: str = ""


def _rows(text: str) -> list:
    obj = json.loads(text, parse_float=Decimal)
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):
        obj = obj["data"]
    if not isinstance(obj, list):
        raise ValueError("not a list of rows")
    return obj


def _get(row: dict, *names, default=None):
    for n in names:
        if row.get(n) not in (None, ""):
            return row[n]
    return default


def _dec(value) -> Decimal:
    d = Decimal(str(value))
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return d


def parse_position(row: dict) -> Position:
    """One v1 or v2 `/positions` row. Raises KeyError/ValueError/TypeError when unreadable."""
    token = _get(row, "asset", "token_id")
    cid = _get(row, "conditionId", "condition_id")
    if not token or not cid:
        raise KeyError("asset/conditionId")
    status = str(row.get("status") or "")
    return Position(
        token_id=str(token), condition_id=str(cid).lower(),
        size=_dec(_get(row, "size", "current_size")),
        cur_price=_dec(_get(row, "curPrice", "current_price", default=0)),
        avg_price=_dec(_get(row, "avgPrice", "avg_price", default=0)),
        slug=str(row.get("slug") or ""), outcome=str(row.get("outcome") or ""),
        redeemable=bool(row.get("redeemable")) or status in ("REDEEMABLE", "CLOSED"),
    )


def parse_activity(row: dict) -> Activity:
    """One v1 or v2 `/activity` row. Raises KeyError/ValueError/TypeError when unreadable."""
    kind = str(row["type"]).upper()
    return Activity(
        type=kind, condition_id=str(_get(row, "conditionId", "condition_id", default="")).lower(),
        size=_dec(row["size"]), timestamp=int(row["timestamp"]),
        tx_hash=str(_get(row, "transactionHash", "transaction_hash", default="")),
        token_id=str(_get(row, "asset", "token_id", default="")),
        side=str(row.get("side") or ""), price=_dec(row.get("price") or 0), slug=str(row.get("slug") or ""),
    )


def parse_rows(text: str, parse) -> tuple[list, int]:
    """(records, rows skipped as unreadable). Raises ValueError when the body is not a row list."""
    out, bad = [], 0
    for row in _rows(text):
        try:
            out.append(parse(row))
        except (KeyError, ValueError, TypeError, InvalidOperation, ArithmeticError):
            bad += 1
    return out, bad


class PositionsClient:
    def __init__(self, base_url: str, timeout_s: float, session: requests.Session | None = None):
        self.base = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = session or requests.Session()
        self.skipped = 0  # unreadable rows seen so far

    def _page(self, route: str, params: dict) -> str:
        params = {**params, "_": time.time_ns()}  # the CDN caches by URL (§3.3)
        try:
            r = self.session.get(f"{self.base}{route}", params=params, timeout=self.timeout_s)
        except requests.RequestException as e:
            raise TemporaryError(f"data api {route}: {type(e).__name__}") from None
        if r.status_code in RETRY_STATUSES:
            raise TemporaryError(f"data api {route}: HTTP {r.status_code}", retry_after_s(r.headers.get("Retry-After")))
        if r.status_code != 200:
            raise RejectedError(f"data api {route}: HTTP {r.status_code}")
        return r.text

    def _all(self, route: str, params: dict, parse) -> list:
        out, offset = [], 0
        while offset <= MAX_OFFSET:
            try:
                rows, bad = parse_rows(self._page(route, {**params, "limit": PAGE, "offset": offset}), parse)
            except ValueError:
                raise TemporaryError(f"data api {route}: body is not a list of rows") from None
            self.skipped += bad
            out.extend(rows)
            if len(rows) + bad < PAGE:
                return out
            offset += PAGE
        return out

    def positions(self, user: str) -> list[Position]:
        """Every position of `user`, including those under one share (sizeThreshold=0)."""
        return self._all("/positions", {"user": user, "sizeThreshold": 0}, parse_position)

    def activity(self, user: str, start_ts: int, types=NON_TRADE + ("TRADE",)) -> list[Activity]:
        """`user`'s activity of these types since `start_ts` (unix s), newest first."""
        return self._all("/activity", {"user": user, "type": ",".join(types), "start": int(start_ts)}, parse_activity)

    def midpoints(self, clob_url: str, token_ids) -> dict:
        return fetch_midpoints(self.session, clob_url, token_ids, self.timeout_s)

    def close(self) -> None:
        self.session.close()


def fetch_midpoints(session: requests.Session, clob_url: str, token_ids, timeout_s: float) -> dict:
    """token -> CLOB mid price (GET /midpoint); tokens without a book are left out."""
    out = {}
    for token in token_ids:
        try:
            r = session.get(f"{clob_url.rstrip('/')}/midpoint", params={"token_id": token}, timeout=timeout_s)
        except requests.RequestException as e:
            raise TemporaryError(f"clob /midpoint: {type(e).__name__}") from None
        if r.status_code in RETRY_STATUSES:
            raise TemporaryError(f"clob /midpoint: HTTP {r.status_code}", retry_after_s(r.headers.get("Retry-After")))
        if r.status_code != 200:
            continue
        try:
            mid = _dec(json.loads(r.text).get("mid"))
        except (ValueError, TypeError, AttributeError, InvalidOperation):
            continue
        if 0 < mid < 1:
            out[token] = mid
    return out
