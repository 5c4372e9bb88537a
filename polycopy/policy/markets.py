"""Market facts that can be known without a request."""
from __future__ import annotations

import re

WINDOW_S = 900
_UPDOWN_15M = re.compile(r"^(?P<asset>[a-z0-9]+)-updown-15m-(?P<start>\d{9,11})$")


def market_end(slug: str, venue_end_ts: int = 0) -> int:
    """A market's end (unix s): what the venue says, else what a 15-minute slug tells; 0 unknown.
    The catalog calls this once per market; everyone else reads `Market.end_ts`."""
    return int(venue_end_ts or end_ts_from_slug(slug) or 0)


def is_updown(slug: str) -> bool:
    """A 15-minute Up/Down market's slug (`<asset>-updown-15m-<window start>`)."""
    return _UPDOWN_15M.match(slug or "") is not None


def end_ts_from_slug(slug: str) -> int | None:
    """`btc-updown-15m-1787102100` ends at start + 900 s; None for any other slug."""
    parts = updown_window(slug)
    return parts[1] + WINDOW_S if parts else None


def updown_window(slug: str) -> tuple[str, int] | None:
    """A 15-minute slug's asset and window start (`btc`, 1787102100); None for any other slug."""
    m = _UPDOWN_15M.match(slug or "")
    return (m.group("asset"), int(m.group("start"))) if m else None


def window_start(ts: int) -> int:
    """The 15-minute window (unix s, aligned to :00/:15/:30/:45) that contains `ts`."""
    return ts - ts % WINDOW_S


def updown_slug(asset: str, start_ts: int) -> str:
    return f"{asset.lower()}-updown-15m-{window_start(start_ts)}"
