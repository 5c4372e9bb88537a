"""A source fill from a parsed feed row (wire/trade.py: RTDS payload or Data API v2 row), and its dedupe key.

key = `tx|token|side|price|size|occurrence`. Amounts are written canonically (`0.520` and
`0.52` give the same text), so a number sent as a JSON number by one feed and as a string by
another still matches.

Occurrence numbering. A transaction can hold several identical fills of the source wallet (same
token, side, price and size). Each *delivery stream* numbers them 0, 1, 2, ... in the order it
lists them: an RTDS subscription type (`trades` and `orders_matched` each carry the taker row of
the same fill, so they are counted apart), across frames and reconnects, with counters kept for
`Occurrences.window_s` after the last frame of that transaction; or one Data API poll (all pages
of it), which re-lists the transaction and numbers afresh. Intake treats the keys as a multiset.
A stream that delivers the same frame twice numbers the repeat 1, exactly like a genuine second
fill: policy/dedupe.py says how intake tells them apart (a repeat counts once the backstop, which
lists the venue's own rows, reports it too).
"""
from __future__ import annotations

import time
from decimal import Decimal
from typing import Callable

from polycopy.messages import SourceFill
from polycopy.wire.trade import Trade


def canon(d: Decimal) -> str:
    """Shortest plain text of a decimal: 0.520 -> "0.52", 1E+1 -> "10", 25.0 -> "25"."""
    return format(d.normalize(), "f")


def fill_key(tx_hash: str, token_id: str, side: str, price: Decimal, size: Decimal, occurrence: int) -> str:
    return f"{tx_hash.lower()}|{token_id}|{side}|{canon(price)}|{canon(size)}|{occurrence}"


class Occurrences:
    """Numbers identical fills per stream: next(stream, base) -> 0, 1, 2, ..."""

    def __init__(self, window_s: float = 3600.0):
        self.window_s = window_s
        self._seen: dict[tuple[str, str], tuple[int, float]] = {}
        self._last_prune = time.monotonic()

    def next(self, stream: str, base: str) -> int:
        now = time.monotonic()
        count, _ = self._seen.get((stream, base), (0, now))
        self._seen[(stream, base)] = (count + 1, now)
        if now - self._last_prune > 60:
            self._prune(now)
        return count

    def _prune(self, now: float) -> None:
        self._last_prune = now
        self._seen = {k: v for k, v in self._seen.items() if now - v[1] <= self.window_s}


def fill_from_trade(t: Trade, *, feed: str, recv_mono_ns: int, occurrence: Callable[[str], int],
                    envelope_ts_ms: int = 0) -> SourceFill:
    """A parsed feed row (wire/trade.py) as a SourceFill. `occurrence(base)` numbers identical
    fills (see the module docstring)."""
    base = fill_key(t.tx_hash, t.token_id, t.side, t.price, t.size, 0).rsplit("|", 1)[0]
    occ = occurrence(base)
    return SourceFill(
        key=f"{base}|{occ}", source_wallet=t.wallet, condition_id=t.condition_id, token_id=t.token_id,
        outcome=t.outcome, side=t.side, price=t.price, size=t.size, tx_hash=t.tx_hash, source_ts_ms=t.ts_s * 1000,
        feed=feed, recv_mono_ns=recv_mono_ns, envelope_ts_ms=envelope_ts_ms, slug=t.slug,
    )
