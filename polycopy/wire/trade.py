"""A wallet's fill as a feed reports it: what an RTDS `activity` payload (wire/rtds.py) and a
Data API v2 `/trades` row (wire/data_api.py) both say. Each wire has its own spelling (`Spelling`:
one key per field, no fallbacks); both are held to the same rules here."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from polycopy.errors import Malformed
from polycopy.wire import fields as f

ZERO, ONE = Decimal(0), Decimal(1)
MAX_SIZE = Decimal(10) ** 12  # shares: far above any fill, far below what overflows


@dataclass(frozen=True, slots=True)
class Trade:
    wallet: str  # lowercase proxy wallet (the funder), never the EOA
    token_id: str
    condition_id: str  # lowercase, 32 bytes
    side: str  # BUY | SELL: this wallet's direction
    price: Decimal  # pUSD per share, in (0, 1]
    size: Decimal  # shares, > 0
    ts_s: int  # block time, unix seconds
    tx_hash: str  # lowercase; not unique per fill (PROTOCOL.md §1.6)
    outcome: str = ""
    slug: str = ""


@dataclass(frozen=True, slots=True)
class Spelling:
    """The wire's key for each field of a Trade."""

    wallet: str
    token_id: str
    condition_id: str
    side: str
    price: str
    size: str
    ts_s: str
    tx_hash: str
    outcome: str = "outcome"
    slug: str = "slug"


def parse_trade(row, k: Spelling, now_s: float, past_s: float = f.PAST_S) -> Trade:
    """One row in spelling `k` -> Trade, or Malformed naming the wire's key that is wrong."""
    row = f.obj(row, "row")
    price = f.decimal(row.get(k.price), k.price, ZERO, ONE)
    size = f.decimal(row.get(k.size), k.size, ZERO, MAX_SIZE)
    if not price:
        raise Malformed(k.price, "zero")
    if not size:
        raise Malformed(k.size, "zero")
    return Trade(wallet=f.address(row.get(k.wallet), k.wallet), token_id=f.token_id(row.get(k.token_id), k.token_id),
                 condition_id=f.condition_id(row.get(k.condition_id), k.condition_id),
                 side=f.side(row.get(k.side), k.side), price=price, size=size,
                 ts_s=f.timestamp_s(row.get(k.ts_s), k.ts_s, now_s, past_s),
                 tx_hash=f.tx_hash(row.get(k.tx_hash), k.tx_hash),
                 outcome=f.opt_text(row.get(k.outcome), k.outcome, 200), slug=f.opt_text(row.get(k.slug), k.slug, 300))
