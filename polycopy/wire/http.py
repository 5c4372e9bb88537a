"""The one retry rule and the one Retry-After parser, for every HTTP answer we read.

`should_retry`: a read answered 425 (engine restart), 429 (rate limited) or 5xx may work later;
any other status will not. A Data API v2 error body says so itself (`retryable`), and that
wins. (`POST /order` is not a read: wire/clob.py `parse_post` decides there, because a 5xx
after sending may mean the order exists.)
"""
from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_S = 300.0  # a server asking for longer is capped: the watchers must look again


def should_retry(status: int, retryable: bool | None = None) -> bool:
    if retryable is not None:
        return retryable
    return status in (425, 429) or 500 <= status <= 599


def retry_after_s(value, now: float | None = None) -> float | None:
    """`Retry-After` (delta seconds or an HTTP date) or a body's `retry_after_seconds`, as seconds
    in [0, MAX_RETRY_AFTER_S]; None when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()[:64]
        try:
            seconds = float(text)
        except ValueError:
            try:
                when = parsedate_to_datetime(text).timestamp()
            except (TypeError, ValueError, OverflowError, IndexError):
                return None
            seconds = when - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)
