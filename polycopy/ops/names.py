"""A market outcome's name for people: "BTC Up · 8:30–8:45 PM ET". Token ids are for machines.

One function, `market_name`, names a token everywhere a person reads (console, live view,
alerts, CSVs, --status, the report). It uses, in order: a 15-minute Up/Down slug (asset, outcome,
window in New York time: how the venue titles them), else the venue's title and the outcome (and
the market's end when it is known and `day` is asked), else the slug, else a shortened token id.
Names are cached per (market, token): the hot path's log lines call it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

from polycopy.policy.markets import WINDOW_S, updown_window

SEP = " · "
TITLE_MAX = 48
try:
    from zoneinfo import ZoneInfo

    ET, ET_LABEL = ZoneInfo("America/New_York"), "ET"
except Exception:  # noqa: BLE001 - no tz database on this host: name windows in UTC, and say so
    ET, ET_LABEL = timezone.utc, "UTC"


def short_token(token_id: str) -> str:
    """"5633…0586": enough to tell two tokens apart in a table, short enough to read."""
    t = str(token_id or "")
    return t if len(t) <= 12 else f"{t[:4]}…{t[-4:]}"


def market_name(market=None, token_id: str = "", *, outcome: str = "", slug: str = "", day: bool = False) -> str:
    """The name of one outcome of a market (`market`: a messages.Market, or None when unknown)."""
    if market is not None:
        outcome = outcome or market.outcome_of(str(token_id))
        return _named(market.slug or slug, market.title, outcome, int(market.end_ts or 0), day)
    if slug:
        return _named(slug, "", outcome, 0, day)
    return f"token {short_token(token_id)}" if token_id else "-"


@lru_cache(maxsize=4096)
def _named(slug: str, title: str, outcome: str, end_ts: int, day: bool) -> str:
    updown = updown_window(slug)
    if updown is not None:
        asset, start = updown
        return f"{asset.upper()} {outcome}".rstrip() + SEP + window(start, start + WINDOW_S, day)
    head = _shorten(" ".join((title or slug or "?").split()))
    parts = [head, outcome] if outcome else [head]
    if day and end_ts > 0:
        parts.append("ends " + _local(end_ts).strftime("%b %-d %-I:%M %p ") + ET_LABEL)
    return SEP.join(parts)


def window(start_ts: int, end_ts: int, day: bool = False) -> str:
    """"8:30–8:45 PM ET"; "11:45 AM–12:00 PM ET" across noon; "Dec 6 8:30–8:45 PM ET" with `day`."""
    a, b = _local(start_ts), _local(end_ts)
    left = a.strftime("%-I:%M") if a.strftime("%p") == b.strftime("%p") else a.strftime("%-I:%M %p")
    text = f"{left}–{b.strftime('%-I:%M %p')} {ET_LABEL}"
    return f"{a.strftime('%b %-d')} {text}" if day else text


def _local(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, ET)


def _shorten(text: str) -> str:
    return text if len(text) <= TITLE_MAX else text[:TITLE_MAX - 1].rstrip() + "…"


class MarketBook:
    """The markets an actor has been told about (the catalog's `Market` messages), by token, to
    name tokens it only has the id of. Bounded: the oldest markets are forgotten first."""

    def __init__(self, max_markets: int = 4096):
        self.max_markets = max_markets
        self.by_token: dict[str, object] = {}
        self.order: dict[str, tuple] = {}  # condition id -> its token ids, oldest first

    def add(self, market) -> None:
        if market is None:
            return
        self.order.pop(market.condition_id, None)
        self.order[market.condition_id] = tuple(str(t) for t in market.token_ids)
        for t in self.order[market.condition_id]:
            self.by_token[t] = market
        while len(self.order) > self.max_markets:
            for t in self.order.pop(next(iter(self.order))):
                self.by_token.pop(t, None)

    def get(self, token_id: str):
        return self.by_token.get(str(token_id))

    def name(self, token_id: str, **kw) -> str:
        return market_name(self.get(token_id), token_id, **kw)
