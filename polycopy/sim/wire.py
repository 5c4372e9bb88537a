"""Fills and the wire rows built from them (RTDS payload, Data API v1/v2 rows), plus JSON.

Amounts stay `Decimal` until `dumps`, which writes them as JSON numbers like the real feeds
(2.7027, 25) — the shortest text that reads back to the same decimal.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

from eth_utils import to_checksum_address

from polycopy.sim.markets import MarketInfo


@dataclass(frozen=True)
class Profile:
    wallet: str  # lowercase 0x address
    name: str = ""
    pseudonym: str = ""
    bio: str = ""
    image: str = ""


@dataclass
class Fill:
    """One wallet's fill in one transaction (a taker row or a maker row)."""

    profile: Profile
    info: MarketInfo
    token: str
    side: str
    price: Decimal
    size: Decimal
    role: str  # "taker" | "maker"
    tx_hash: str
    unix_ts: int  # block-ish time, seconds
    sched_mono_ns: int
    is_source: bool = False
    fill_key: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def outcome_index(self) -> int:
        return self.info.market.tokens.index(self.token)


def _number(value: Decimal):
    if value == value.to_integral_value():
        return int(value)
    return float(value)  # repr of the float is the decimal's own digits (<= 15 significant)


def _default(obj):
    if isinstance(obj, Decimal):
        return _number(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj) -> str:
    return json.dumps(obj, default=_default, separators=(",", ":"))


def _common(f: Fill) -> dict:
    m = f.info.market
    return {"title": m.question, "slug": m.slug, "icon": f.info.icon,
            "eventSlug": m.event_slug, "outcome": m.outcome_of(f.token),
            "outcomeIndex": f.outcome_index, "name": f.profile.name,
            "pseudonym": f.profile.pseudonym, "bio": f.profile.bio,
            "profileImage": f.profile.image}


def rtds_payload(f: Fill) -> dict:
    """The `activity` payload: checksummed wallet, seconds timestamp (PROTOCOL.md §1.5)."""
    return {"asset": f.token, "conditionId": f.info.market.condition_id,
            "proxyWallet": to_checksum_address(f.profile.wallet), "side": f.side,
            "size": f.size, "price": f.price, "timestamp": f.unix_ts,
            "transactionHash": f.tx_hash, **_common(f)}


def trade_row(f: Fill) -> dict:
    """A Data API v1 `/trades` row (lowercase wallet, §3.1)."""
    row = {"proxyWallet": f.profile.wallet, "side": f.side, "asset": f.token,
           "conditionId": f.info.market.condition_id, "size": f.size, "price": f.price,
           "timestamp": f.unix_ts}
    row.update(_common(f))
    row["profileImageOptimized"] = f.profile.image
    row["transactionHash"] = f.tx_hash
    return row


def activity_row(f: Fill) -> dict:
    """A Data API v1 `/activity` TRADE row."""
    row = trade_row(f)
    return {"proxyWallet": row["proxyWallet"], "timestamp": f.unix_ts,
            "conditionId": row["conditionId"], "type": "TRADE", "size": f.size,
            "usdcSize": f.size * f.price, "transactionHash": f.tx_hash, "price": f.price,
            "asset": f.token, "side": f.side, "outcomeIndex": f.outcome_index,
            **{k: row[k] for k in ("title", "slug", "icon", "eventSlug", "outcome", "name",
                                   "pseudonym", "bio", "profileImage",
                                   "profileImageOptimized")}}


def _snake(name: str) -> str:
    return "token_id" if name == "asset" else re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def v2_row(row: dict) -> dict:
    """A v1 row in the v2 spelling: snake_case keys (`asset` is `token_id`), amounts as
    decimal strings (the docs' examples show strings, §3.2)."""
    return {_snake(k): (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
