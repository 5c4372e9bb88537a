"""Back-off parks, never drops. When the venue asks us to wait (429, 425, 503 with Retry-After),
what arrives meanwhile waits and goes out when the window ends, still under Risk's reservation:

- an approved intent that arrives inside a window is *parked* unsigned (its price is taken from
  the book when it goes, not from the book of the moment it arrived);
- an order the venue answered with 429/425/503 is parked as it is (`retry_wait`): those signed
  bytes were not placed, and the same bytes go again (the journal allows one order per intent).

Either ends without being sent only when it became stale (`execution.max_park_s` after it
arrived), its market came too near its end for an opening trade (`near_expiry_cutoff_seconds`,
or the end itself for a closing one), or the kill switch tripped — each with its reason.
"""
from __future__ import annotations

from dataclasses import dataclass

STALE, NEAR_EXPIRY = "stale_in_backoff", "near_expiry"


@dataclass(frozen=True, slots=True)
class Parked:
    approved: object  # ApprovedIntent
    market: object  # Market
    since: float  # wall clock when it was parked
    until: float  # it is dropped at this time if still parked
    why_until: str  # the reason it is dropped for then


def park_deadline(cfg, market, side: str, since: float) -> tuple[float, str]:
    """(the latest time a parked intent or order may still go, the reason it ends then)."""
    until, why = since + cfg.max_park_s, STALE
    if market is not None and market.end_ts > 0:
        end = market.end_ts - (cfg.near_expiry_cutoff_seconds if side == "BUY" else 0)
        if end < until:
            until, why = end, NEAR_EXPIRY
    return until, why


class Parking:
    """Intents that arrived inside a venue back-off window, oldest first."""

    def __init__(self):
        self.intents: dict[str, Parked] = {}  # intent id -> Parked

    def park(self, cfg, approved, market, now: float) -> Parked:
        until, why = park_deadline(cfg, market, approved.intent.side, now)
        p = self.intents[approved.intent_id] = Parked(approved, market, now, until, why)
        return p

    def due(self, now: float, blocked_until: float, sending_allowed: bool) -> tuple[list[Parked], list[tuple]]:
        """(parked intents that may go now, [(parked, reason)] that end unsent); both leave the park."""
        ready, ended = [], []
        for iid, p in list(self.intents.items()):
            if not sending_allowed:
                ended.append((p, "kill_switch"))
            elif now >= p.until:
                ended.append((p, p.why_until))
            elif now >= blocked_until:
                ready.append(p)
            else:
                continue
            del self.intents[iid]
        return ready, ended

    def __len__(self) -> int:
        return len(self.intents)
