"""`GET /balance-allowance` (VENUE-2026-12.md §3; the SDK's `models/clob/account.py` reads the
same shape): `{"balance": <base units>, "allowances": {spender: <base units>}}`, pUSD with 6
decimals, numbers as integers or digit strings. Pure: no I/O."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from polycopy.errors import Malformed
from polycopy.wire import fields as f

UNIT = Decimal(1_000_000)
MAX_UNITS = 10**30  # far above any balance; MAX_UINT256 allowances are capped to it
MAX_SPENDERS = 64


@dataclass(frozen=True, slots=True)
class BalanceAllowance:
    balance_usd: Decimal
    allowance_usd: Decimal | None  # the smallest allowance over the exchanges listed; None: none listed
    allowances: tuple = ()  # ((spender, usd), ...)


def parse_balance_allowance(data) -> BalanceAllowance:
    """The parsed JSON answer. Raises Malformed naming the field."""
    data = f.obj(data, "answer")
    balance = f.integer(data.get("balance"), "balance", 0, MAX_UNITS)
    raw = data.get("allowances") or {}
    if not isinstance(raw, dict) or len(raw) > MAX_SPENDERS:
        raise Malformed("allowances", "not an object of spenders")
    allowances = tuple((f.text(k, "allowances", 100), min(_uint256(v), MAX_UNITS) / UNIT)
                       for k, v in sorted(raw.items()))
    return BalanceAllowance(balance_usd=min(balance, MAX_UNITS) / UNIT,
                            allowance_usd=min((usd for _, usd in allowances), default=None), allowances=allowances)


def _uint256(value) -> int:
    """An allowance: often MAX_UINT256 (78 digits), longer than fields.integer reads."""
    if isinstance(value, str) and 0 < len(value) <= 78 and value.isdigit() and value.isascii():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**256:
        raise Malformed("allowances", "not an amount")
    return value
