"""What a decoded settlement (wire/settlement.py) means for a wallet: each wallet's leg, the
source's provisional fills, and the rule by which a settled fill confirms a provisional one. Pure.

A fill amount is in the order's own maker asset (pUSD for a BUY, shares for a SELL). A maker
trades at exactly its own limit; the taker's shares and pUSD are sums over its makers
(MEMPOOL.md §1.3).

Identity of a provisional fill: `pending|<order hash>|<fill amount>`. A retry or replacement of
the settlement under a new transaction hash carries the same signed order and fill, so it gets
the same key and Intake drops it as a duplicate. How a later RTDS/backstop row confirms it:
`confirms()` below.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from coincurve import PublicKey
from eth_utils import keccak

from polycopy.errors import Malformed
from polycopy.messages import SourceFill
from polycopy.venue import eip712
from polycopy.wire.settlement import (BUY, EXCHANGES, NEG_RISK_V2_EXCHANGE, SELL, V2_EXCHANGE, V3_EXCHANGE, Order,
                                      Settlement, decode_calldata, encode_calldata)

# The settlement's wire model lives in wire/settlement.py; polysim (sim/polygon*.py) and its
# tests build and decode settlements through these names, so they stay importable from here.
__all__ = ["BUY", "SELL", "EXCHANGES", "NEG_RISK_V2_EXCHANGE", "V2_EXCHANGE", "V3_EXCHANGE", "Order", "Settlement",
           "decode_calldata", "encode_calldata", "Leg", "legs", "order_hash", "pending_key", "source_fills",
           "signature_ok", "confirms", "SIZE_TOLERANCE", "MAX_TAKER_AGE_MS", "UNIT"]

UNIT = Decimal(1_000_000)
PRICE_Q = Decimal("0.000001")  # prices to 6 places: a taker's is an average, a maker's a ratio of its amounts
MAX_TAKER_AGE_MS = 120_000  # a taker order is matched ~1 s after signing (MEMPOOL.md §1.2)


@dataclass(frozen=True, slots=True)
class Leg:
    """One wallet's fill in a settlement."""

    role: str  # "taker" | "maker"
    wallet: str  # lowercase `maker` field: the funder (RTDS proxyWallet)
    side: str
    token_id: str
    shares_raw: int
    pusd_raw: int
    fee_raw: int
    fill_raw: int  # the order's fill in its maker asset (the calldata's own number)
    price: Decimal
    order_hash: str


def order_hash(o: Order, exchange: str, chain_id: int = 137) -> str:
    """EIP-712 digest of the 11 signed fields: the CLOB order id and `OrderFilled.orderHash`."""
    exchange = exchange.lower()
    struct = eip712.order_struct_hash(
        salt=o.salt, maker=eip712.address_word(o.maker), signer=eip712.address_word(o.signer), token_id=o.token_id,
        maker_amount=o.maker_amount, taker_amount=o.taker_amount, side=o.side, signature_type=o.signature_type,
        timestamp=o.timestamp, metadata=o.metadata, builder=o.builder)
    return "0x" + eip712.digest(eip712.domain_separator(EXCHANGES[exchange], chain_id, exchange), struct).hex()


# ---------------------------------------------------------------- fills


def legs(s: Settlement, chain_id: int = 137) -> list[Leg]:
    """Every wallet's fill: the makers (each at its own limit) in order, then the taker."""
    out, t = [], s.taker
    shares = pusd = 0
    for m, fill, fee in zip(s.makers, s.maker_fills, s.maker_fees):
        taking = fill * m.taker_amount // m.maker_amount
        same_token = m.token_id == t.token_id
        if same_token == (m.side == t.side):
            raise Malformed("match", "maker neither complementary nor mint/merge")
        if m.side == BUY:
            m_shares, m_pusd, price = taking, fill, Decimal(m.maker_amount) / Decimal(m.taker_amount)
        else:
            m_shares, m_pusd, price = fill, taking, Decimal(m.taker_amount) / Decimal(m.maker_amount)
        out.append(_leg("maker", m, m_shares, m_pusd, fee, fill, price, s.exchange, chain_id))
        shares += m_shares
        # complementary: the taker pays/gets the maker's cash; mint/merge: the set's rest (1 - maker's price)
        pusd += m_pusd if same_token else (m_shares - m_pusd)
    if shares <= 0:
        raise Malformed("fill", "taker fill is zero")
    price = Decimal(pusd) / Decimal(shares)
    out.append(_leg("taker", t, shares, pusd, s.taker_fee, s.taker_fill, price, s.exchange, chain_id))
    return out


def _leg(role, o: Order, shares, pusd, fee, fill, price, exchange, chain_id) -> Leg:
    if not (0 < price <= 1):
        raise Malformed("price", f"{role} price {price} out of range")
    return Leg(role=role, wallet=o.maker, side="BUY" if o.side == BUY else "SELL", token_id=str(o.token_id),
               shares_raw=shares, pusd_raw=pusd, fee_raw=fee, fill_raw=fill, price=price.quantize(PRICE_Q).normalize(),
               order_hash=order_hash(o, exchange, chain_id))


def pending_key(order_hash_: str, fill_raw: int) -> str:
    return f"pending|{order_hash_.lower()}|{fill_raw}"


def source_fills(s: Settlement, *, tx_hash: str, wallet: str, recv_mono_ns: int, seen_ts_ms: int,
                 chain_id: int = 137) -> list[SourceFill]:
    """The source wallet's provisional fills in one settlement (none if it is not in it).

    `seen_ts_ms` (wall clock at receipt) stands in for the source timestamp: a pending
    transaction has no block time, and a maker order's own timestamp can be hours old.
    Anyone can broadcast a (reverting) call naming the source, so the source's orders must carry
    a signature that recovers to their signer (where that can be checked offline), and its taker
    order must be fresh (a taker order is matched as it arrives): else Malformed.
    """
    wallet = wallet.lower()
    if wallet not in {s.taker.maker, *(m.maker for m in s.makers)}:
        return []
    out = []
    for o, leg in zip((*s.makers, s.taker), legs(s, chain_id)):
        if leg.wallet != wallet:
            continue
        if signature_ok(o, leg.order_hash) is False:
            raise Malformed("signature", f"order {leg.order_hash[:12]} is not signed by {o.signer[:12]}")
        if leg.role == "taker" and o.timestamp < seen_ts_ms - MAX_TAKER_AGE_MS:
            raise Malformed("stale_order", f"taker order {leg.order_hash[:12]} signed {o.timestamp}")
        out.append(SourceFill(
            key=pending_key(leg.order_hash, leg.fill_raw), source_wallet=wallet, condition_id=s.condition_id,
            token_id=leg.token_id, outcome="", side=leg.side, price=leg.price, size=Decimal(leg.shares_raw) / UNIT,
            tx_hash=tx_hash.lower(), source_ts_ms=seen_ts_ms, feed="mempool", recv_mono_ns=recv_mono_ns,
            provisional=True, order_hash=leg.order_hash))
    return out


def signature_ok(o: Order, digest: str) -> bool | None:
    """ECDSA orders (types 0-2): does the signature recover to `signer`? None when it cannot be
    checked offline: a deposit wallet (type 3, ERC-1271) or a preapproved order (empty signature).
    For types 1-2 the signer-to-proxy link (CREATE2) is not checked."""
    sig = o.signature
    if not sig or o.signature_type == 3:
        return None
    if len(sig) != 65 or (o.signature_type == 0 and o.signer != o.maker):
        return False
    v = sig[64] - 27 if sig[64] >= 27 else sig[64]
    try:
        pub = PublicKey.from_signature_and_message(sig[:64] + bytes([v]), bytes.fromhex(digest[2:]), hasher=None)
    except Exception:  # noqa: BLE001 - coincurve raises several types for an invalid signature
        return False
    return "0x" + keccak(pub.format(compressed=False)[1:])[-20:].hex() == o.signer


# ---------------------------------------------------------------- the matching rule for Intake

SIZE_TOLERANCE = Decimal("0.0001")  # shares: integer rounding over several makers (MEMPOOL.md §7.6)


def confirms(pending: SourceFill, fill: SourceFill, tx_hashes=()) -> bool:
    """Whether a settled fill (RTDS, backstop, chain) is the same trade as a provisional one.

    Same wallet, token and side; its size at most the provisional size (+ tolerance): a taker's
    provisional fill is the sum over its makers, which another feed may list as several rows,
    so Intake consumes rows of one transaction until their sizes add up. The transaction must
    be one of the provisional's hashes (`tx_hashes`: the pending tx and every retry seen);
    a row under a hash the mempool never saw (a retry that went straight into a block) is
    matched by Intake's fallback instead: same fields, unclaimed, within the confirm timeout.
    """
    hashes = {h.lower() for h in (*tx_hashes, pending.tx_hash)}
    return (fill.source_wallet == pending.source_wallet and fill.token_id == pending.token_id
            and fill.side == pending.side and fill.size <= pending.size + SIZE_TOLERANCE
            and fill.tx_hash.lower() in hashes)
