"""What each feed delivered, as intake saw it: fills it was first with, duplicates, stale and
unconfirmed ones, and its lag behind the source (and behind its own envelope). Sent to telemetry
as FeedStats every few seconds."""
from __future__ import annotations

from collections import deque
from statistics import median

from polycopy.messages import FeedStats


class FeedCounters:
    def __init__(self):
        self.first_seen = self.duplicates = self.stale = self.unconfirmed = self.invalid = 0
        self.lag_source: deque = deque(maxlen=500)
        self.lag_envelope: deque = deque(maxlen=500)

    def message(self, feed: str) -> FeedStats:
        def p50(d):
            return round(median(d), 1) if d else 0.0

        return FeedStats(
            feed=feed, first_seen=self.first_seen, duplicates=self.duplicates, stale=self.stale,
            unconfirmed=self.unconfirmed, invalid=self.invalid,
            lag_source_ms_p50=p50(self.lag_source), lag_source_ms_max=round(max(self.lag_source, default=0.0), 1),
            lag_envelope_ms_p50=p50(self.lag_envelope), lag_envelope_ms_max=round(max(self.lag_envelope, default=0.0), 1),
        )
