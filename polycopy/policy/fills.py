"""What a source fill must look like before intake stores it. The wire parsers already refuse
bad input; this is the second line: one implausible value reaching intake (from any feed, now or
in the future) must not make the database refuse the whole batch it came in.
"""
from __future__ import annotations

from decimal import Decimal

PAST_MS = 7 * 86_400_000  # a source fill older than a week is no fill we could copy
FUTURE_MS = 5 * 60_000  # clocks drift; a fill from further ahead than this is wrong
MAX_SIZE = Decimal(10) ** 12
MAX_KEY = 512


def implausible(fill, now_ms: int) -> str | None:
    """Why a fill cannot be stored as it is, or None."""
    ts = fill.source_ts_ms
    if not isinstance(ts, int) or isinstance(ts, bool) or not now_ms - PAST_MS <= ts <= now_ms + FUTURE_MS:
        return "timestamp"
    for name in ("price", "size"):
        v = getattr(fill, name)
        if not isinstance(v, Decimal) or not v.is_finite() or not 0 < v <= (1 if name == "price" else MAX_SIZE):
            return name
    if not isinstance(fill.key, str) or not fill.key or len(fill.key) > MAX_KEY:
        return "key"
    for name in ("recv_mono_ns", "envelope_ts_ms"):
        v = getattr(fill, name)
        if not isinstance(v, int) or not 0 <= v < 2**63:
            return name
    return None
