"""Readers for one field of a wire object: the value in its type and range, or `Malformed(kind=<field>)`.

Every parser in this package reads its fields through these, so the same rules hold on every
wire: numbers are bounded Decimals (JSON numbers or numeric strings, never bools), timestamps
are whole seconds (or ms, told apart by size) inside a window around now, ids have their
shape, text is bounded.
"""
from __future__ import annotations

import re
from decimal import Decimal

from polycopy.errors import Malformed
from polycopy.wire.jsontext import bounded_decimal

DAY_S = 86_400
PAST_S = 7 * DAY_S  # a live feed's fill older than this is nonsense
FUTURE_S = 300  # clocks disagree, a little
EARLIEST_S = 1_577_836_800  # 2020-01-01: history listings go back, but not before Polymarket's CLOB
MAX_TEXT = 2000

_HEX = re.compile(r"0x[0-9a-fA-F]+")
_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_TX = re.compile(r"0x[0-9A-Za-z]{2,128}")


def obj(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise Malformed(field, "not an object")
    return value


def decimal(value, field: str, lo: Decimal | None = None, hi: Decimal | None = None) -> Decimal:
    """A JSON number (Decimal or int after jsontext.loads; a float from elsewhere, by its repr) or a
    numeric string, within [lo, hi]."""
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 10 ** 40:
            raise Malformed(field, "number out of range")
        d = Decimal(value)
    elif isinstance(value, (str, float)):
        try:
            d = bounded_decimal(value.strip() if isinstance(value, str) else repr(value))
        except Malformed:
            raise Malformed(field, "not a number") from None
    else:
        raise Malformed(field, "missing or not a number")
    if (lo is not None and d < lo) or (hi is not None and d > hi):
        raise Malformed(field, "out of range")
    return d


def opt_decimal(value, field: str, default: Decimal = Decimal(0)) -> Decimal:
    return default if value is None or value == "" else decimal(value, field)


def integer(value, field: str, lo: int | None = None, hi: int | None = None) -> int:
    """A JSON integer or a string of digits (an optional minus sign)."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and 0 < len(value) <= 40 and value.lstrip("-").isdigit() and value.isascii():
        n = int(value)
    else:
        raise Malformed(field, "not an integer")
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise Malformed(field, "out of range")
    return n


def timestamp_s(value, field: str, now_s: float, past_s: float = PAST_S, future_s: float = FUTURE_S) -> int:
    """Unix seconds (a value above 1e10 is read as ms) inside [now - past_s, now + future_s]."""
    ts = integer(value, field)
    if ts > 10_000_000_000:
        ts //= 1000
    if not now_s - past_s <= ts <= now_s + future_s:
        raise Malformed(field, f"{ts} is outside the window around now")
    return ts


def text(value, field: str, max_len: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise Malformed(field, "not a string")
    if len(value) > max_len:
        raise Malformed(field, f"longer than {max_len}")
    return value


def opt_text(value, field: str, max_len: int = MAX_TEXT) -> str:
    return "" if value is None else text(value, field, max_len)


def boolean(value, field: str, default: bool | None = None) -> bool:
    if isinstance(value, bool):
        return value
    if value is None and default is not None:
        return default
    raise Malformed(field, "not a boolean")


def token_id(value, field: str = "token_id") -> str:
    """An ERC-1155 token / position id: a decimal string (or integer) of at most 80 digits."""
    s = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(s, str) or not (0 < len(s) <= 80 and s.isdigit() and s.isascii()):
        raise Malformed(field, "not a token id")
    return s


def address(value, field: str) -> str:
    """A 20-byte 0x address, lowercase (feeds disagree on case)."""
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise Malformed(field, "not an address")
    return value.lower()


def condition_id(value, field: str = "condition_id") -> str:
    """A 0x hex condition id, lowercase; a 31-byte V2 id is right-padded to 32 bytes (VENUE §8.12)."""
    if not isinstance(value, str) or len(value) > 66 or not _HEX.fullmatch(value):
        raise Malformed(field, "not a hex condition id")
    value = value.lower()
    return value + "00" if len(value) == 64 else value


def tx_hash(value, field: str = "transaction_hash") -> str:
    if not isinstance(value, str) or not _TX.fullmatch(value):
        raise Malformed(field, "not a transaction hash")
    return value.lower()


def side(value, field: str = "side") -> str:
    s = value.upper() if isinstance(value, str) and len(value) <= 8 else None
    if s not in ("BUY", "SELL"):
        raise Malformed(field, "not BUY or SELL")
    return s
