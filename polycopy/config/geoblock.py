"""Geoblock as policy: which tier a host's country and region fall in (geoblock.yaml, dated and
overridable), and what the bot does about it at start. The venue stays the judge: a region 403
mid-run switches to close-only whatever the table says.

- tier 1 (blocked, OFAC): live mode refuses to start;
- tier 2 (close-only on the API too): live mode starts in close-only mode;
- tier 3 (close-only on the website only: the API trades) or a place the table does not list:
  starts; with a warning when the endpoint answers `blocked` (it does for close-only places too).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

TABLE = Path(__file__).with_name("geoblock.yaml")
REFUSE, CLOSE_ONLY, WARN, OK = "refuse", "close_only", "warn", "ok"


@dataclass(frozen=True, slots=True)
class Verdict:
    action: str  # refuse | close_only | warn | ok
    tier: int  # 0 when the table does not list the place
    place: str  # "NL" or "CA-ON" as matched, or the country


@lru_cache(maxsize=1)
def _table() -> tuple[str, dict[str, int]]:
    raw = yaml.safe_load(TABLE.read_text())
    return str(raw["as_of"]), {str(p).upper(): int(t) for t, places in raw["tiers"].items() for p in places}


def as_of() -> str:
    return _table()[0]


def classify(country: str, region: str, blocked: bool, overrides: dict | None = None) -> Verdict:
    """The tier of a host's place (its region first, then its country) and the action for live mode."""
    table = {**_table()[1], **{str(k).upper(): int(v) for k, v in (overrides or {}).items()}}
    country, region = (country or "").upper(), (region or "").upper()
    for place in (f"{country}-{region}", country):
        if place in table:
            tier = table[place]
            action = {1: REFUSE, 2: CLOSE_ONLY}.get(tier, WARN if blocked else OK)
            return Verdict(action, tier, place)
    return Verdict(WARN if blocked else OK, 0, country)
