"""The catalog's lookups: market facts from Gamma (VENUE-2026-12.md §1) and the tick size from
the CLOB (PROTOCOL.md §5.3), on kept-alive connections, for the catalog's I/O thread.

Gamma's list routes (`/markets`, `/events`) are sunset: every lookup by id goes through
`/markets/keyset` with one filter — `clob_token_ids` (v1 markets), `position_ids` (v2 markets,
whose `clobTokenIds` may be null), `condition_ids`. By slug, the single-market route
`/markets/slug/{slug}`: it is not a list route (the SDK's `get_market(slug=)` uses it), it
answers closed markets too (the list route dropped expired short markets, PROTOCOL.md §4.1),
and a 404 says plainly that Gamma does not know the slug. (SDK 0.14.0's keyset also takes a
`slug` filter, but whether it lists closed markets by default is not documented.)

Each call returns the facts, None when the venue does not know the market, or raises
TemporaryError for what may work later (network, 425/429/5xx, an answer we cannot read).
"""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from polycopy.clients.http import HttpClient
from polycopy.errors import Malformed, RejectedError, TemporaryError
from polycopy.messages import Market
from polycopy.wire.clob import parse_tick_size
from polycopy.wire.gamma import GammaMarket, parse_keyset, parse_single
from polycopy.wire.jsontext import loads

TIMEOUT_S = 3.0
KEYSET = "/markets/keyset"
BY_ID = ("clob_token_ids", "position_ids", "condition_ids")


def market_of(m: GammaMarket) -> Market:
    """What Gamma says; the catalog completes the end (policy.markets.market_end) and the tick."""
    return Market(condition_id=m.condition_id, token_ids=m.token_ids, outcomes=m.outcomes, end_ts=m.end_ts,
                  tick_size=m.tick_size, min_order_size=m.min_order_size, neg_risk=m.neg_risk, version=m.version,
                  slug=m.slug, title=m.title, accepting_orders=m.accepting_orders)


class MarketsApi:
    def __init__(self, gamma_url: str, clob_url: str, timeout_s: float = TIMEOUT_S):
        self.gamma = HttpClient(gamma_url, timeout_s)
        self.clob = HttpClient(clob_url, timeout_s)

    def lookup(self, filter_name: str, value: str) -> list[GammaMarket]:
        """`/markets/keyset?<filter>=<value>`: the markets it lists (one page: an id names one market)."""
        if filter_name not in BY_ID:
            raise ValueError(f"not a keyset id filter: {filter_name}")
        answer = self.gamma.read(KEYSET, {filter_name: value, "limit": 10})
        try:
            page = parse_keyset(answer.body)
        except Malformed as e:
            raise TemporaryError(f"gamma keyset: {e}") from None
        if page.bad and not page.markets:
            raise TemporaryError(f"gamma keyset: malformed market ({page.bad[0]})")
        return list(page.markets)

    def market_by_token(self, token_id: str) -> Market | None:
        """A v1 token id is in `clobTokenIds`, a v2 position id in `positionIds`: try both."""
        for name in ("clob_token_ids", "position_ids"):
            for m in self.lookup(name, token_id):
                if token_id in m.token_ids:
                    return market_of(m)
        return None

    def market_by_condition(self, condition_id: str) -> Market | None:
        found = [m for m in self.lookup("condition_ids", condition_id) if m.condition_id == condition_id.lower()]
        return market_of(found[0]) if found else None

    def market_by_slug(self, slug: str) -> Market | None:
        answer = self.gamma.read(f"/markets/slug/{quote(slug, safe='')}", ok=(200, 404))
        if answer.status == 404:
            return None
        try:
            return market_of(parse_single(answer.body))
        except Malformed as e:
            raise TemporaryError(f"gamma market {slug[:60]}: malformed ({e})") from None

    def tick_size(self, token_id: str) -> Decimal | None:
        """GET /tick-size?token_id=… -> the market's current tick; None if the CLOB has no such book."""
        try:
            answer = self.clob.read("/tick-size", {"token_id": token_id})
        except RejectedError:
            return None
        try:
            return parse_tick_size(loads(answer.body, max_bytes=64 * 1024, max_depth=4))
        except Malformed as e:
            raise TemporaryError(f"tick-size: {e}") from None

    def close(self) -> None:
        self.gamma.close()
        self.clob.close()
