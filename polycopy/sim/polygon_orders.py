"""The driver's rows of one source transaction -> the `matchOrders` settlement(s) that carry them,
and a successful settlement's receipt logs (MEMPOOL.md §1.6; FeeCharged is left out).

The driver gives every source row its own counterparty and sorts taker rows first, so the i-th
source taker row pairs with the i-th other-wallet maker row, and the i-th source maker row with
the i-th other-wallet taker row. A real settlement has one taker order, so:
- the source's taker rows of one (token, side) become ONE taker order of the source, filled by
  their counterparties as maker orders (complementary or mint/merge, each at its own price);
- the source's maker rows of one (token, side) become maker orders of the source, each its own
  order (identical rows get different salts), filled by one taker order of the first counterparty.
The first group keeps the transaction's hash; any further group (a transaction mixing roles,
which a real settlement cannot) gets a derived hash, so another feed's row for it carries a hash
the mempool never showed. Maker orders rest larger than their fill (x1, x2 or x4); fees are 0.
Signatures are empty, as on orders the operator preapproved: polysim has no keys for its wallets,
and a filler would fail the bot's signature check.
Rows are duck-typed `polycopy.sim.wire.Fill`: profile.wallet, info.market, token, side, price,
size, role, is_source, tx_hash.
"""
from __future__ import annotations

import random
import time
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal

from eth_abi import encode
from eth_utils import keccak

from polycopy.venue.mempool import BUY, NEG_RISK_V2_EXCHANGE, SELL, V2_EXCHANGE, V3_EXCHANGE, Order, Settlement, legs

UNIT = Decimal(1_000_000)
ORDER_FILLED = "0xd543adfd945773f1a62f74f0ee55a5e3b9b1a28262980ba90b1a89f2ea84d8ee"
ORDERS_MATCHED = "0x174b3811690657c217184f89418266767c87e4805d09680c39fc9c031c0cab7c"


def raw(d: Decimal) -> int:
    return int((d * UNIT).to_integral_value(rounding=ROUND_DOWN))


def exchange_of(market) -> str:
    if getattr(market, "version", "v1") == "v2":
        return V3_EXCHANGE
    return NEG_RISK_V2_EXCHANGE if getattr(market, "neg_risk", False) else V2_EXCHANGE


def settlements_from_rows(rows: list, rng: random.Random) -> list[tuple[Settlement, str]]:
    if not rows:
        return []
    groups: dict[tuple, list] = {}
    takers = [r for r in rows if not r.is_source and r.role == "taker"]
    makers = [r for r in rows if not r.is_source and r.role == "maker"]
    for role, others in (("taker", makers), ("maker", takers)):
        mine = [r for r in rows if r.is_source and r.role == role]
        for r, other in zip(mine, others):
            groups.setdefault((role, r.token, r.side), []).append((r, other))
    out, tx_hash = [], rows[0].tx_hash
    for i, ((role, _, _), pairs) in enumerate(groups.items()):
        build = _source_taker if role == "taker" else _source_maker
        out.append((build(pairs, rng), tx_hash if i == 0 else "0x" + keccak(text=f"{tx_hash}:{i}").hex()))
    return out


def _order(rng, wallet: str, token: str, side: str, price: Decimal, size: Decimal, scale: int, age_ms: int) -> Order:
    shares, cash = raw(size) * scale, raw(price * size) * scale
    salt = rng.getrandbits(64)
    maker_amount, taker_amount = (cash, shares) if side == "BUY" else (shares, cash)
    return Order(salt=salt, maker=wallet, signer=wallet, token_id=int(token), maker_amount=maker_amount,
                 taker_amount=taker_amount, side=BUY if side == "BUY" else SELL, signature_type=0,
                 timestamp=int(time.time() * 1000) - age_ms, signature=b"")


def _maker(rng, row) -> tuple[Order, int]:
    """A resting order of `row`'s wallet that this match fills by `row.size` at `row.price`."""
    o = _order(rng, row.profile.wallet, row.token, row.side, row.price, row.size, rng.choice((1, 2, 4)),
               rng.randint(1_000, 600_000))
    return o, (raw(row.price * row.size) if row.side == "BUY" else raw(row.size))


def _settlement(market, taker_row, taker_price: Decimal, taker_size: Decimal, makers: list, rng) -> Settlement:
    """`taker_fill` is what the taker gives: pUSD for a BUY (sum of its per-leg prices), shares for a SELL."""
    taker = _order(rng, taker_row.profile.wallet, taker_row.token, taker_row.side, taker_price, taker_size, 1,
                   rng.randint(50, 400))
    fills = [f for _, f in makers]
    return Settlement(exchange=exchange_of(market), condition_id=market.condition_id.lower(), taker=taker,
                      makers=tuple(o for o, _ in makers), maker_fills=tuple(fills), maker_fees=tuple(0 for _ in fills),
                      taker_fill=0, taker_fee=0)


def _with_taker_fill(s: Settlement, parts: list[tuple[Decimal, Decimal]], side: str) -> Settlement:
    """parts: (taker's price, shares) per maker; exact because prices have 2 and sizes 4 decimals."""
    fill = sum(raw(p * q) for p, q in parts) if side == "BUY" else sum(raw(q) for _, q in parts)
    receive = sum(raw(q) for _, q in parts) if side == "BUY" else sum(raw(p * q) for p, q in parts)
    return replace(s, taker_fill=fill, taker_receive=receive if s.exchange == V3_EXCHANGE else None)


def _source_taker(pairs: list, rng) -> Settlement:
    """The source's rows as one taker order; each counterparty row as a maker order."""
    first = pairs[0][0]
    parts = [(r.price, r.size) for r, _ in pairs]
    size = sum(q for _, q in parts)
    cap = max(p for p, _ in parts) if first.side == "BUY" else min(p for p, _ in parts)
    s = _settlement(first.info.market, first, cap, size, [_maker(rng, other) for _, other in pairs], rng)
    return _with_taker_fill(s, parts, first.side)


def _source_maker(pairs: list, rng) -> Settlement:
    """The source's rows as maker orders, all filled by the first counterparty's one taker order."""
    first, other = pairs[0]
    parts = [(r.price, r.size) for r, _ in pairs]
    size = sum(q for _, q in parts)
    cap = max(p for p, _ in parts) if other.side == "BUY" else min(p for p, _ in parts)
    s = _settlement(first.info.market, other, cap, size, [_maker(rng, r) for r, _ in pairs], rng)
    return _with_taker_fill(s, parts, other.side)


def receipt_logs(s: Settlement, tx: dict, where: dict) -> list[dict]:
    """OrderFilled per maker, then the taker's (taker = the exchange), then OrdersMatched."""
    out = []
    all_legs = legs(s)
    taker_wallet = all_legs[-1].wallet
    for leg in all_legs:
        given, got = (leg.pusd_raw, leg.shares_raw) if leg.side == "BUY" else (leg.shares_raw, leg.pusd_raw)
        counterparty = s.exchange if leg.role == "taker" else taker_wallet
        data = encode(["uint8", "uint256", "uint256", "uint256", "uint256", "bytes32", "bytes32"],
                      [0 if leg.side == "BUY" else 1, int(leg.token_id), given, got, leg.fee_raw, bytes(32), bytes(32)])
        out.append({"topics": [ORDER_FILLED, leg.order_hash, _word(leg.wallet), _word(counterparty)],
                    "data": "0x" + data.hex()})
    taker = all_legs[-1]
    given, got = (taker.pusd_raw, taker.shares_raw) if taker.side == "BUY" else (taker.shares_raw, taker.pusd_raw)
    data = encode(["uint8", "uint256", "uint256", "uint256"], [s.taker.side, s.taker.token_id, given, got])
    out.append({"topics": [ORDERS_MATCHED, taker.order_hash, _word(taker.wallet)], "data": "0x" + data.hex()})
    return [{**log, "address": s.exchange, "transactionHash": tx["hash"], **where, "logIndex": hex(i),
             "removed": False} for i, log in enumerate(out)]


def _word(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()
