"""Data API v2 (VENUE-2026-12.md §1): a kept-alive client of our own for the backstop's
`/v2/trades` poll and the reconciler's `/v2/positions` and `/v2/activity`.

Why not the SDK's data client (polymarket-client 0.14.0): measured, it is as fast per poll
(bench/data_api_client.py, bench/results/data_api_client.json: within noise both against
polysim and against a canned server), but (1) one row that does not validate fails the whole
page (`UnexpectedResponseError`): every good fill on it is lost; (2) it takes "1e999999999" as a
Decimal that overflows later; (3) it cannot bust the CDN cache (the CDN caches by URL for up to
5 min and ignores no-cache headers, PROTOCOL.md §3.3; every request here carries a changing `_`
parameter); (4) it sleeps inside the call to retry a 429 (`_internal/retry.py`), past the
backstop's per-poll deadline. The rows are parsed by wire/data_api.py; the SDK's models were
the reference for their shapes.

Every call is blocking and meant for an I/O thread. Errors: TemporaryError (network, 425/429/
5xx, a body saying `retryable`; with the server's Retry-After), RejectedError (another 4xx),
Malformed (an answer that is not a v2 page).
"""
from __future__ import annotations

import time

from polycopy.clients.http import HttpClient
from polycopy.errors import TemporaryError
from polycopy.wire.data_api import (Activity, Page, Position, Resolution, activity_row, parse_page, parse_position,
                                    parse_resolution, trade_row)
from polycopy.wire.fields import EARLIEST_S

TRADES, ACTIVITY, POSITIONS, RESOLUTIONS = "/v2/trades", "/v2/activity", "/v2/positions", "/v2/resolutions"
MAX_CONDITIONS = 20  # the v2 `condition` filter takes at most this many ids
PAGE = 1000  # the v2 maximum
MAX_PAGES = 20  # a listing longer than this is not read whole: the caller gets TemporaryError
NON_TRADE = ("SPLIT", "MERGE", "REDEEM", "CONVERSION")


class DataApi:
    def __init__(self, base_url: str, timeout_s: float):
        self.http = HttpClient(base_url, timeout_s)

    def page(self, route: str, params: dict, parse_row, *, cursor: str | None = None,
             deadline: float | None = None) -> tuple[Page, int]:
        """One page, cache-busted. Returns (page, recv_mono_ns)."""
        params = {**params, "_": time.time_ns()}  # the CDN caches by URL (PROTOCOL.md §3.3)
        if cursor:
            params["cursor"] = cursor
        answer = self.http.read(route, params, deadline=deadline)
        return parse_page(answer.body, parse_row), answer.recv_ns

    def trades(self, user: str, limit: int, cursor: str | None, deadline: float, now_s: float,
               start_s: int | None = None) -> tuple[Page, int]:
        """One page of `user`'s fills since `start_s`, maker rows included, newest first. A listing
        is history: rows from any time since 2020 parse (the caller keeps what is young enough)."""
        params = {"user": user, "taker_only": "false", "limit": limit}
        if start_s is not None:
            params["start"] = int(start_s)
        return self.page(TRADES, params, trade_row(now_s, now_s - EARLIEST_S), cursor=cursor, deadline=deadline)

    def listing(self, route: str, params: dict, parse_row) -> list:
        """Every row of a listing, all pages. A malformed row or a listing longer than MAX_PAGES
        makes it incomplete: TemporaryError (a round built on part of it would act on a guess)."""
        out, cursor = [], None
        for _ in range(MAX_PAGES):
            page, _ = self.page(route, {**params, "limit": PAGE}, parse_row, cursor=cursor)
            if page.bad:
                raise TemporaryError(f"{route}: {len(page.bad)} malformed rows (first: {page.bad[0]}: "
                                     f"{page.bad[0].excerpt})")
            out.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return out
        raise TemporaryError(f"{route}: more than {MAX_PAGES} pages")

    def positions(self, user: str, conditions=()) -> list[Position]:
        """Every position of `user` (on these markets only, if given), the smallest included (v2
        hides < 0.1 share by default)."""
        params = {"user": user, "filter_type": "TOKENS", "filter_amount": 0}
        return self._by_condition(POSITIONS, params, parse_position, conditions)

    def activity(self, user: str, start_ts: int, types=NON_TRADE + ("TRADE",), conditions=()) -> list[Activity]:
        """`user`'s activity of these types since `start_ts` (unix s) (on these markets only, if
        given), newest first."""
        params = {"user": user, "type": ",".join(types), "start": int(start_ts)}
        return self._by_condition(ACTIVITY, params, activity_row(time.time()), conditions)

    def resolutions(self, conditions) -> list[Resolution]:
        """`/v2/resolutions` of these markets (status, payouts, when)."""
        out = []
        for chunk in _chunks(list(conditions)):
            answer = self.http.read(RESOLUTIONS, {"condition": ",".join(chunk), "_": time.time_ns()})
            page = parse_page(answer.body, parse_resolution, paged=False)
            if page.bad:
                raise TemporaryError(f"{RESOLUTIONS}: {len(page.bad)} malformed rows (first: {page.bad[0]})")
            out.extend(page.items)
        return out

    def _by_condition(self, route: str, params: dict, parse_row, conditions) -> list:
        if not conditions:
            return self.listing(route, params, parse_row)
        out = []
        for chunk in _chunks(list(conditions)):
            out.extend(self.listing(route, {**params, "condition": ",".join(chunk)}, parse_row))
        return out

    def close(self) -> None:
        self.http.close()


def _chunks(items: list) -> list[list]:
    return [items[i:i + MAX_CONDITIONS] for i in range(0, len(items), MAX_CONDITIONS)]
