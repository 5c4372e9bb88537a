"""Gamma market records -> MarketFacts (pure parsing) and the one lookup the catalog makes."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import requests

from polycopy.errors import TemporaryError
from polycopy.messages import MarketFacts


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


def parse_market(m: dict) -> MarketFacts:
    version = m.get("version") or "v1"
    ids = _json_list(m.get("positionIds")) if version == "v2" else _json_list(m.get("clobTokenIds"))
    return MarketFacts(
        condition_id=m["conditionId"],
        token_ids=tuple(str(t) for t in ids),
        outcomes=tuple(_json_list(m.get("outcomes"))),
        end_ts=_iso_to_ts(m.get("endDate")),
        tick_size=Decimal(str(m.get("orderPriceMinTickSize") or "0.01")),
        min_order_size=Decimal(str(m.get("orderMinSize") or "5")),
        neg_risk=bool(m.get("negRisk")),
        version=version,
        slug=m.get("slug") or "",
        accepting_orders=bool(m.get("acceptingOrders", True)),
    )


def fetch_market_by_token(session: requests.Session, gamma_url: str, token_id: str, timeout_s: float = 3.0) -> MarketFacts | None:
    """GET /markets?clob_token_ids=… (then positionIds for V2 markets). None if Gamma does not know it."""
    for param in ("clob_token_ids", "position_ids"):
        try:
            r = session.get(f"{gamma_url}/markets", params={param: token_id}, timeout=timeout_s)
        except requests.RequestException as e:
            raise TemporaryError(f"gamma unreachable: {type(e).__name__}") from None
        if r.status_code == 429 or r.status_code >= 500:
            raise TemporaryError(f"gamma answered {r.status_code}", retry_after_s=_retry_after(r))
        if r.status_code != 200:
            continue
        rows = r.json(parse_float=Decimal)
        if rows:
            return parse_market(rows[0])
    return None


def _retry_after(r: requests.Response) -> float | None:
    try:
        return float(r.headers.get("Retry-After", ""))
    except ValueError:
        return None
