"""Data API `/trades` (PROTOCOL.md §3): row parsing, a kept-alive client, and the poller.

The client is blocking (`requests`) and meant for a watcher thread; every call takes a
monotonic deadline and never waits past it. The poller pages newest-first with limit/offset
down to a floor (the newest source timestamp seen minus a look-back), numbers identical fills
per poll (source_fill.py), and hands out only keys it has not handed out before.
"""
from __future__ import annotations

import json
import time
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Callable

import requests

from polycopy.errors import RejectedError, TemporaryError
from polycopy.messages import SourceFill
from polycopy.venue.source_fill import BadRow, fill_from_row, wallet_of

MAX_OFFSET = 10_000  # beyond it the API answers 400
RETRY_STATUSES = {425, 429, 500, 502, 503, 504}


def parse_trades(text: str) -> list:
    """A v1 bare array or a v2 `{"data": [...]}` envelope -> list of rows. Raises ValueError."""
    obj = json.loads(text, parse_float=Decimal)
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):
        obj = obj["data"]
    if not isinstance(obj, list):
        raise ValueError("not a list of trades")
    return obj


def retry_after_s(value: str | None) -> float | None:
    """`Retry-After` as seconds (delta or HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class DataApiClient:
    def __init__(self, base_url: str, timeout_s: float, session: requests.Session | None = None):
        self.url = base_url.rstrip("/") + "/trades"
        self.timeout_s = timeout_s
        self.session = session or requests.Session()

    def trades(self, user: str, limit: int, offset: int, deadline: float) -> tuple[list, int]:
        """One page, newest first, with a cache-buster. Returns (rows, recv_mono_ns).

        Raises TemporaryError (timeout, connection, 429/5xx with retry_after_s, bad body) or
        RejectedError (another 4xx).
        """
        timeout = min(self.timeout_s, deadline - time.monotonic())
        if timeout <= 0:
            raise TemporaryError("poll deadline passed")
        params = {"user": user, "takerOnly": "false", "limit": limit, "offset": offset, "_": time.time_ns()}
        try:
            r = self.session.get(self.url, params=params, timeout=timeout)
        except requests.RequestException as e:
            raise TemporaryError(f"data api: {type(e).__name__}") from None
        recv_ns = time.monotonic_ns()
        if r.status_code in RETRY_STATUSES:
            raise TemporaryError(f"data api: HTTP {r.status_code}", retry_after_s(r.headers.get("Retry-After")))
        if r.status_code != 200:
            raise RejectedError(f"data api: HTTP {r.status_code}")
        try:
            return parse_trades(r.text), recv_ns
        except ValueError:
            raise TemporaryError("data api: body is not a list of trades") from None

    def close(self) -> None:
        self.session.close()


Fetch = Callable[[int, int], tuple[list, int]]  # (limit, offset) -> (rows, recv_mono_ns)


class TradesPoller:
    def __init__(self, wallet: str, page_limit: int, lookback_s: int, start_floor_s: int):
        self.wallet = wallet.lower()
        self.page_limit = page_limit
        self.lookback_s = lookback_s
        self.newest_s: int | None = None
        self.start_floor_s = start_floor_s
        self.emitted: dict[str, int] = {}  # key -> source ts (s)
        self.malformed = 0
        self.unstable = 0  # multi-page polls cut back to the first page

    def floor_s(self) -> int:
        return self.start_floor_s if self.newest_s is None else self.newest_s - self.lookback_s

    def poll(self, fetch: Fetch) -> list[SourceFill]:
        """Page down to the floor; return the fills not returned before."""
        floor = self.floor_s()
        first, recv_ns = fetch(self.page_limit, 0)
        rows = [(r, recv_ns) for r in first]
        offset, page = 0, first
        while len(page) == self.page_limit and _oldest_s(page) >= floor and offset + self.page_limit < MAX_OFFSET:
            offset += self.page_limit
            page, ns = fetch(self.page_limit, offset)
            rows += [(r, ns) for r in page]
        if offset:
            # Rows added at the top while paging shift the pages down and would repeat a row at a
            # boundary, which looks exactly like an identical fill: keep only the first page then.
            again, _ = fetch(self.page_limit, 0)
            if again != first:
                self.unstable += 1
                rows = [(r, recv_ns) for r in first]
        return self._new_fills(rows, floor)

    def _new_fills(self, rows: list, floor: int) -> list[SourceFill]:
        counts: dict[str, int] = {}

        def occurrence(base: str) -> int:
            counts[base] = counts.get(base, 0) + 1
            return counts[base] - 1

        out = []
        for row, ns in rows:
            try:
                wallet = wallet_of(row) if isinstance(row, dict) else ""
                if not wallet:
                    raise BadRow("proxyWallet", "missing")
                if wallet != self.wallet or _ts_s(row) < floor:
                    continue
                fill = fill_from_row(row, feed="backstop", recv_mono_ns=ns, occurrence=occurrence)
            except BadRow:
                self.malformed += 1
                continue
            ts_s = fill.source_ts_ms // 1000
            self.newest_s = max(self.newest_s or 0, ts_s)
            if fill.key not in self.emitted:
                self.emitted[fill.key] = ts_s
                out.append(fill)
        keep = self.floor_s() - 60
        if len(self.emitted) > 1000:
            self.emitted = {k: t for k, t in self.emitted.items() if t >= keep}
        return out


def _ts_s(row) -> int:
    ts = row.get("timestamp") if isinstance(row, dict) else None
    if isinstance(ts, bool) or not isinstance(ts, (int, str)) or not str(ts).isdigit():
        raise BadRow("timestamp", "not an integer")
    ts = int(ts)
    return ts // 1000 if ts > 10_000_000_000 else ts


def _oldest_s(page: list) -> int:
    stamps = []
    for r in page:
        try:
            stamps.append(_ts_s(r))
        except BadRow:
            continue
    return min(stamps) if stamps else 0
