"""The market catalog: explicit markets plus rolling Up/Down series, and their books.

Ids are derived from the slug (sha256), so a scenario always yields the same condition and
token ids. Series slugs follow the real rule `<asset>-updown-15m-<window start>`, end = start
+ 900 (a series with another `window_s`: `<asset>-updown-<minutes>m-<start>`, end = start +
window_s); `ensure_windows` adds the windows around "now" as simulated time moves on.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from polycopy.sim.model import SimMarket
from polycopy.sim.scenario import BookSpec, DefaultBook, Scenario, SeriesSpec

WINDOW_S = 900
ET = ZoneInfo("America/New_York")
ICON = "https://polymarket-upload.s3.us-east-2.amazonaws.com/{}+fullsize.png"
_REF = re.compile(r"^([a-z]{2,10})([+-]\d+)?$")


@dataclass
class MarketInfo:
    """A market plus what only the feeds need (Gamma id, icon, creation time, mids)."""

    market: SimMarket
    gamma_id: str
    event_id: str
    icon: str
    created_ts: int
    mids: list[Decimal]  # per outcome, for outcomePrices / curPrice


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def token_id(slug: str, outcome: str) -> str:
    return str(int(_digest(f"{slug}:{outcome}"), 16))


def condition_id(slug: str, version: str = "v1") -> str:
    """A v2 (Protocol V2) market's id is 31 bytes; as bytes32 it ends in the outcome byte 00
    (VENUE-2026-12.md §2.3), which the SDK's Router calls require."""
    digest = _digest(slug)
    return "0x" + (digest[:62] + "00" if version == "v2" else digest)


def window_title(asset_title: str, start_ts: int, window_s: int = WINDOW_S) -> str:
    start = datetime.fromtimestamp(start_ts, ET)
    end = datetime.fromtimestamp(start_ts + window_s, ET)
    clock = lambda t: t.strftime("%I:%M%p").lstrip("0")  # noqa: E731
    return f"{asset_title} Up or Down - {start:%B} {start.day}, {clock(start)}-{clock(end)} ET"


def book_levels(mid: Decimal, spec: DefaultBook, tick: Decimal):
    """Bids below and asks above `mid`, one tick apart, clipped to (0, 1)."""
    half = (spec.spread / 2).quantize(tick, rounding=ROUND_HALF_UP) or tick
    best_bid, best_ask = mid - half, mid + half
    bids = [(best_bid - i * tick, spec.size) for i in range(spec.levels)]
    asks = [(best_ask + i * tick, spec.size) for i in range(spec.levels)]
    return [b for b in bids if b[0] > 0], [a for a in asks if a[0] < 1]


class Catalog:
    def __init__(self, scenario: Scenario, start_unix: float):
        self.scenario = scenario
        self.start_unix = start_unix
        self.by_slug: dict[str, MarketInfo] = {}
        self.by_token: dict[str, MarketInfo] = {}
        self.by_cid: dict[str, MarketInfo] = {}
        self._series = {s.asset: s for s in scenario.series}
        self.on_add = None  # called with each MarketInfo added after construction
        for spec in scenario.markets:
            end = int(start_unix) + spec.end_in_s
            self._add(SimMarket(
                condition_id=spec.condition_id or condition_id(spec.slug, spec.version),
                question=spec.question or spec.slug, slug=spec.slug,
                event_slug=spec.event_slug or spec.slug,
                tokens=spec.tokens or [token_id(spec.slug, o) for o in spec.outcomes],
                outcomes=list(spec.outcomes), start_ts=end - 86400, end_ts=end,
                tick_size=spec.tick_size, min_order_size=spec.min_order_size,
                neg_risk=spec.neg_risk, version=spec.version, closed=spec.closed,
                fee_rate=spec.fee_rate), icon="")

    def _add(self, market: SimMarket, icon: str) -> MarketInfo:
        mid = self.scenario.default_book.mid
        n = len(self.by_slug)
        info = MarketInfo(market, gamma_id=str(1388000 + n), event_id=str(912000 + n), icon=icon,
                          created_ts=market.start_ts, mids=[mid, 1 - mid][:len(market.tokens)])
        self.by_slug[market.slug] = info
        self.by_cid[market.condition_id] = info
        for token in market.tokens:
            self.by_token[token] = info
        if self.on_add:
            self.on_add(info)
        return info

    def _window_market(self, series: SeriesSpec, start: int) -> SimMarket:
        slug = series_slug(series, start)
        title = window_title(series.title, start, series.window_s)
        return SimMarket(
            condition_id=condition_id(slug, series.version), question=title, slug=slug, event_slug=slug,
            tokens=[token_id(slug, "Up"), token_id(slug, "Down")], outcomes=["Up", "Down"],
            start_ts=start - 86400, end_ts=start + series.window_s, tick_size=series.tick_size,
            fee_rate=series.fee_rate, version=series.version)

    def ensure_windows(self, now_unix: float) -> list[MarketInfo]:
        """Add the series windows around `now_unix`; return the ones that are new."""
        added = []
        for series in self.scenario.series:
            w = series.window_s
            current = int(now_unix) // w * w
            for k in range(-series.lookback_windows, series.lookahead_windows + 1):
                market = self._window_market(series, current + k * w)
                if market.slug not in self.by_slug:
                    added.append(self._add(market, ICON.format(series.asset.upper())))
        return added

    def resolve(self, ref: str, at_unix: float) -> MarketInfo:
        """A market reference (slug, or series asset with optional window shift) at a time."""
        if ref in self.by_slug:
            return self.by_slug[ref]
        match = _REF.match(ref)
        if not match or match.group(1) not in self._series:
            raise KeyError(f"unknown market {ref!r}")
        series = self._series[match.group(1)]
        w = series.window_s
        start = int(at_unix) // w * w + int(match.group(2) or 0) * w
        slug = series_slug(series, start)
        return self.by_slug.get(slug) or self._add(
            self._window_market(series, start), ICON.format(series.asset.upper()))

    def token(self, ref: str, outcome: str, at_unix: float) -> tuple[MarketInfo, str]:
        info = self.resolve(ref, at_unix)
        if outcome not in info.market.outcomes:
            raise KeyError(f"{info.market.slug} has no outcome {outcome!r}")
        return info, info.market.tokens[info.market.outcomes.index(outcome)]

    def books_for(self, info: MarketInfo, overrides: list[BookSpec]):
        """(token, bids, asks) for each token of a market: the default book unless overridden."""
        market = info.market
        for i, token in enumerate(market.tokens):
            spec = next((b for b in overrides if b.outcome == market.outcomes[i] and (
                b.market == market.slug or self._matches_series(b.market, market))), None)
            if spec:
                yield (token, [(lv.price, lv.size) for lv in spec.bids],
                       [(lv.price, lv.size) for lv in spec.asks])
            else:
                bids, asks = book_levels(info.mids[i], self.scenario.default_book,
                                         market.tick_size)
                yield token, bids, asks

    def _matches_series(self, ref: str, market: SimMarket) -> bool:
        return ref in self._series and market.slug.startswith(series_slug(self._series[ref], 0)[:-1])

    def shortest_window_s(self) -> int:
        return min((s.window_s for s in self.scenario.series), default=WINDOW_S)


def series_slug(series: SeriesSpec, start: int) -> str:
    return f"{series.asset}-updown-{series.window_s // 60}m-{start}"
