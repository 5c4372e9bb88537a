"""Market facts from Gamma (PROTOCOL.md §4) and the tick size from the CLOB (§5.3).

`parse_market` is pure; the `fetch_*` calls are blocking (`requests`, short timeouts) and meant
for the catalog's I/O thread. They return None when the venue does not know the market, raise
TemporaryError for what may work later (network, 429, 5xx, a body we cannot read).
"""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import requests

from polycopy.errors import TemporaryError
from polycopy.messages import Market

TIMEOUT_S = 3.0


def _json_list(value) -> list:
    """Gamma string-encodes arrays: '["Up", "Down"]'."""
    if value is None:
        return []
    if isinstance(value, str):
        return json.loads(value) if value.strip() else []
    return list(value)


def _iso_to_ts(value: str | None) -> int:
    if not value:
        return 0
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def parse_market(m: dict) -> Market:
    """A Gamma market object -> Market. Raises KeyError/ValueError on a malformed record."""
    version = m.get("version") or "v1"
    ids = _json_list(m.get("positionIds")) if version == "v2" else _json_list(m.get("clobTokenIds"))
    if not ids:
        raise ValueError("market has no token ids")
    return Market(
        condition_id=str(m["conditionId"]).lower(),
        token_ids=tuple(str(t) for t in ids),
        outcomes=tuple(str(o) for o in _json_list(m.get("outcomes"))),
        end_ts=_iso_to_ts(m.get("endDate")),
        tick_size=Decimal(str(m.get("orderPriceMinTickSize") or "0.01")),
        min_order_size=Decimal(str(m.get("orderMinSize") or "5")),
        neg_risk=bool(m.get("negRisk")),
        version=version,
        slug=m.get("slug") or "",
        accepting_orders=bool(m.get("acceptingOrders", True)) and not m.get("closed", False),
    )


def _get(session: requests.Session, url: str, params: dict, timeout_s: float):
    """(status, parsed JSON or None). Raises TemporaryError for network, 429, 5xx and bad bodies."""
    try:
        r = session.get(url, params=params, timeout=timeout_s)
    except requests.RequestException as e:
        raise TemporaryError(f"{url.rsplit('/', 1)[-1]}: {type(e).__name__}") from None
    if r.status_code == 429 or r.status_code >= 500:
        raise TemporaryError(f"{url.rsplit('/', 1)[-1]}: HTTP {r.status_code}", retry_after_s=_retry_after(r))
    if r.status_code != 200:
        return r.status_code, None
    try:
        return 200, json.loads(r.text, parse_float=Decimal)
    except ValueError:
        raise TemporaryError(f"{url.rsplit('/', 1)[-1]}: body is not JSON") from None


def _first_market(rows) -> Market | None:
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        try:
            return parse_market(rows[0])
        except (KeyError, ValueError, TypeError) as e:
            raise TemporaryError(f"gamma: malformed market ({type(e).__name__}: {e})"[:200]) from None
    return None


def fetch_market_by_token(session: requests.Session, gamma_url: str, token_id: str,
                          timeout_s: float = TIMEOUT_S) -> Market | None:
    """GET /markets?clob_token_ids=… (then position_ids, for V2 markets). None if Gamma does not know it."""
    for param in ("clob_token_ids", "position_ids"):
        _, rows = _get(session, f"{gamma_url}/markets", {param: token_id}, timeout_s)
        facts = _first_market(rows)
        if facts is not None and token_id in facts.token_ids:
            return facts
    return None


def fetch_market_by_slug(session: requests.Session, gamma_url: str, slug: str,
                         timeout_s: float = TIMEOUT_S) -> Market | None:
    """GET /markets?slug=…; /events?slug=… when the market list drops it (expired short markets, §4.1)."""
    _, rows = _get(session, f"{gamma_url}/markets", {"slug": slug}, timeout_s)
    facts = _first_market(rows)
    if facts is not None:
        return facts
    _, events = _get(session, f"{gamma_url}/events", {"slug": slug}, timeout_s)
    if isinstance(events, list) and events and isinstance(events[0], dict):
        markets = [m for m in events[0].get("markets") or [] if isinstance(m, dict) and m.get("slug") == slug]
        return _first_market(markets)
    return None


def fetch_tick_size(session: requests.Session, clob_url: str, token_id: str,
                    timeout_s: float = TIMEOUT_S) -> Decimal | None:
    """GET /tick-size?token_id=… -> the market's current tick; None if the CLOB has no such book."""
    status, body = _get(session, f"{clob_url}/tick-size", {"token_id": token_id}, timeout_s)
    if status != 200 or not isinstance(body, dict) or body.get("minimum_tick_size") is None:
        return None
    tick = Decimal(str(body["minimum_tick_size"]))
    if not (0 < tick < 1):
        raise TemporaryError(f"tick-size: implausible tick {tick}")
    return tick


def _retry_after(r: requests.Response) -> float | None:
    try:
        return float(r.headers.get("Retry-After", ""))
    except ValueError:
        return None


class MarketsApi:
    """The three lookups the catalog makes, on one kept-alive session (I/O thread only)."""

    def __init__(self, gamma_url: str, clob_url: str, timeout_s: float = TIMEOUT_S):
        self.gamma_url, self.clob_url, self.timeout_s = gamma_url.rstrip("/"), clob_url.rstrip("/"), timeout_s
        self.session = requests.Session()

    def market_by_token(self, token_id: str) -> Market | None:
        return fetch_market_by_token(self.session, self.gamma_url, token_id, self.timeout_s)

    def market_by_slug(self, slug: str) -> Market | None:
        return fetch_market_by_slug(self.session, self.gamma_url, slug, self.timeout_s)

    def tick_size(self, token_id: str) -> Decimal | None:
        return fetch_tick_size(self.session, self.clob_url, token_id, self.timeout_s)

    def close(self) -> None:
        self.session.close()
