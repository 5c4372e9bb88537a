"""A source fill from a feed row (RTDS payload, Data API v1 or v2 row), and its dedupe key.

key = `tx|token|side|price|size|occurrence`. Amounts are written canonically (`0.520` and
`0.52` give the same text), so a number sent as a JSON number by one feed and as a string by
another still matches.

Occurrence rule. A transaction can hold several identical fills of the source wallet (same
token, side, price and size). Each *delivery stream* numbers them 0, 1, 2, ... in the order it
lists them, and Intake treats the keys as a multiset: the union over streams counts each
identical fill max(count per stream) times, never merged and never doubled. A stream is:
- an RTDS subscription type (`trades` and `orders_matched` each carry the taker row of the same
  fill, so they are counted apart), across frames and reconnects, with counters kept for
  `Occurrences.window_s` after the last frame of that transaction;
- one Data API poll (all pages of it): every poll re-lists the transaction and numbers afresh,
  so a poll that saw 2 of 3 rows yields occurrences 0, 1 and a later one adds 2.
A stream that delivers the same fill twice would over-count; none of ours does (a watcher's
replay to a restarted Intake re-sends the same keys, which Intake drops). A stream that loses
or renumbers part of a transaction (a reconnect, a watcher restart) under-counts, and another
stream or a later poll fills the gap.
"""
from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Callable

from polycopy.messages import SourceFill


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


class BadRow(ValueError):
    """A row that cannot be a fill; `field` names the culprit."""

    def __init__(self, field: str, detail: str = ""):
        super().__init__(f"{field}: {detail}" if detail else field)
        self.field = field


def _get(row: dict, *names: str):
    for n in names:
        if n in row and row[n] is not None:
            return row[n]
    return None


def to_decimal(value, field: str) -> Decimal:
    """JSON number (already Decimal/int via parse_float=Decimal) or numeric string -> Decimal."""
    if isinstance(value, bool) or value is None:
        raise BadRow(field, "missing or not a number")
    try:
        d = Decimal(value) if isinstance(value, (int, Decimal)) else Decimal(value.strip())
    except (InvalidOperation, AttributeError, TypeError):
        raise BadRow(field, "not a number") from None
    if not d.is_finite():
        raise BadRow(field, "not finite")
    return d


def wallet_of(row: dict) -> str:
    return str(_get(row, "proxyWallet", "proxy_wallet") or "").lower()


def fill_from_row(row: dict, *, feed: str, recv_mono_ns: int, occurrence: Callable[[str], int],
                  envelope_ts_ms: int = 0) -> SourceFill:
    """Normalise one row (camelCase or snake_case, numbers or strings). Raises BadRow.

    `occurrence(base)` numbers identical fills (see the module docstring); it is called last,
    only for a row that is valid.
    """
    if not isinstance(row, dict):
        raise BadRow("row", "not an object")
    token = str(_get(row, "asset", "token_id", "asset_id") or "")
    if not token.isdigit():
        raise BadRow("asset", "missing token id")
    condition = str(_get(row, "conditionId", "condition_id") or "")
    tx = str(_get(row, "transactionHash", "transaction_hash") or "").lower()
    if not tx.startswith("0x") or len(tx) < 4:
        raise BadRow("transactionHash", "missing")
    side = str(_get(row, "side") or "").upper()
    if side not in ("BUY", "SELL"):
        raise BadRow("side", "not BUY or SELL")
    price = to_decimal(_get(row, "price"), "price")
    size = to_decimal(_get(row, "size"), "size")
    if not (0 < price <= 1) or size <= 0:
        raise BadRow("price/size", "out of range")
    ts = _get(row, "timestamp")
    if isinstance(ts, bool) or not isinstance(ts, (int, str)) or not str(ts).isdigit():
        raise BadRow("timestamp", "not an integer")
    ts = int(ts)
    ts_ms = ts if ts > 10_000_000_000 else ts * 1000  # seconds on every feed today; accept ms
    base = fill_key(tx, token, side, price, size, 0).rsplit("|", 1)[0]
    occ = occurrence(base)
    return SourceFill(
        key=f"{base}|{occ}", source_wallet=wallet_of(row), condition_id=condition.lower(), token_id=token,
        outcome=str(_get(row, "outcome") or ""), side=side, price=price, size=size, tx_hash=tx,
        source_ts_ms=ts_ms, feed=feed, recv_mono_ns=recv_mono_ns, envelope_ts_ms=envelope_ts_ms,
        slug=str(_get(row, "slug") or ""),
    )
