"""Operator settlement calldata (`matchOrders`) -> the source wallet's provisional fills. Pure.

CTF Exchange V2 and its neg-risk twin share `matchOrders(bytes32,Order,Order[],uint256,uint256[],
uint256,uint256[])` (0x3c2b4399); ExchangeV3 has `matchOrders(Order,Order[],uint256[],uint256[],
(uint256,uint256,uint256))` (0x0fb25ba4). MEMPOOL.md §1. Amounts are 6-decimal integers; a fill
amount is in the order's own maker asset (pUSD for a BUY, shares for a SELL). A maker trades at
exactly its own limit; the taker's shares and pUSD are sums over its makers (MEMPOOL.md §1.3).

Identity of a provisional fill: `pending|<order hash>|<fill amount>`. A retry or replacement of
the settlement under a new transaction hash carries the same signed order and fill, so it gets
the same key and Intake drops it as a duplicate. How a later RTDS/backstop row confirms it:
`confirms()` below.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from coincurve import PublicKey
from eth_abi import encode
from eth_utils import keccak

from polycopy.messages import SourceFill
from polycopy.venue import abi_settlement, eip712

V2_EXCHANGE = "0xe111180000d2663c0091e4f400237545b87b996b"
NEG_RISK_V2_EXCHANGE = "0xe2222d279d744050d28e00520010520000310f59"
V3_EXCHANGE = "0xe3333700ca9d93003f00f0f71f8515005f6c00aa"
EXCHANGES = {V2_EXCHANGE: "2", NEG_RISK_V2_EXCHANGE: "2", V3_EXCHANGE: "3"}  # -> EIP-712 version

ORDER = "(uint256,address,address,uint256,uint256,uint256,uint8,uint8,uint256,bytes32,bytes32,bytes)"
ARGS = {"2": ["bytes32", ORDER, ORDER + "[]", "uint256", "uint256[]", "uint256", "uint256[]"],
        "3": [ORDER, ORDER + "[]", "uint256[]", "uint256[]", "(uint256,uint256,uint256)"]}
SELECTORS = {v: "0x" + keccak(text=f"matchOrders({','.join(a)})")[:4].hex() for v, a in ARGS.items()}
UNIT = Decimal(1_000_000)
PRICE_Q = Decimal("0.000001")  # prices to 6 places: a taker's is an average, a maker's a ratio of its amounts
BUY, SELL = 0, 1
MAX_TAKER_AGE_MS = 120_000  # a taker order is matched ~1 s after signing (MEMPOOL.md §1.2)


class NotSettlement(ValueError):
    """A transaction that is not a settlement we decode (another contract or function): ignored."""


class Malformed(ValueError):
    """Settlement calldata that does not decode or cannot be a valid match; `kind` is counted."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Order:
    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int
    taker_amount: int
    side: int  # 0 BUY, 1 SELL
    signature_type: int
    timestamp: int  # ms
    metadata: bytes = bytes(32)
    builder: bytes = bytes(32)
    signature: bytes = b""

    def as_tuple(self) -> tuple:
        return (self.salt, self.maker, self.signer, self.token_id, self.maker_amount, self.taker_amount, self.side,
                self.signature_type, self.timestamp, self.metadata, self.builder, self.signature)


@dataclass(frozen=True, slots=True)
class Settlement:
    """One decoded `matchOrders` call. `taker_receive` exists on ExchangeV3 only."""

    exchange: str  # lowercase address
    condition_id: str  # 0x + 64 hex (V3: the taker's position id with the outcome byte cleared)
    taker: Order
    makers: tuple  # tuple[Order, ...]
    maker_fills: tuple  # per maker, in its maker asset
    maker_fees: tuple
    taker_fill: int
    taker_fee: int
    taker_receive: int | None = None

    @property
    def version(self) -> str:
        return EXCHANGES[self.exchange]


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


# ---------------------------------------------------------------- calldata


def encode_calldata(s: Settlement) -> str:
    """The `input` of the operator's transaction (polysim builds its settlements with this)."""
    taker, makers = s.taker.as_tuple(), [m.as_tuple() for m in s.makers]
    if s.version == "2":
        args = [bytes.fromhex(s.condition_id[2:]), taker, makers, s.taker_fill, list(s.maker_fills), s.taker_fee,
                list(s.maker_fees)]
    else:
        amounts = (s.taker_fill, s.taker_receive or 0, s.taker_fee)
        args = [taker, makers, list(s.maker_fills), list(s.maker_fees), amounts]
    return SELECTORS[s.version] + encode(ARGS[s.version], args).hex()


def is_settlement(to, data) -> bool:
    """Cheap pre-filter on a pending transaction's `to` and `input`."""
    version = EXCHANGES.get(to.lower()) if isinstance(to, str) else None
    return version is not None and isinstance(data, str) and data[:10].lower() == SELECTORS[version]


def decode_calldata(to: str, data: str) -> Settlement:
    """Raises NotSettlement for other contracts or functions, Malformed for bad settlement calldata."""
    if not is_settlement(to, data):
        raise NotSettlement(f"{str(to)[:42]} {str(data)[:10]}")
    exchange = to.lower()
    version = EXCHANGES[exchange]
    try:
        values = abi_settlement.DECODERS[version](bytes.fromhex(data[10:]))
    except ValueError as e:  # AbiError, or odd/non-hex input from fromhex
        raise Malformed("abi", f"{type(e).__name__}: {e}"[:120]) from None
    if version == "2":
        cid, taker, makers, tfill, mfills, tfee, mfees = values
        receive, condition = None, "0x" + cid.hex()
    else:
        taker, makers, mfills, mfees, (tfill, receive, tfee) = values
        condition = "0x%064x" % (taker[3] & ~0xFF)
    s = Settlement(exchange=exchange, condition_id=condition, taker=_order(taker),
                   makers=tuple(_order(m) for m in makers), maker_fills=tuple(mfills), maker_fees=tuple(mfees),
                   taker_fill=tfill, taker_fee=tfee, taker_receive=receive)
    _check(s)
    return s


def _order(t: tuple) -> Order:
    return Order(t[0], t[1].lower(), t[2].lower(), t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11])


def _check(s: Settlement) -> None:
    if not s.makers or not (len(s.makers) == len(s.maker_fills) == len(s.maker_fees)):
        raise Malformed("shape", "makers, fills and fees differ in length")
    for o in (s.taker, *s.makers):
        if o.side not in (BUY, SELL) or o.maker_amount <= 0 or o.taker_amount <= 0:
            raise Malformed("order", "bad side or zero amount")
    if any(f <= 0 for f in s.maker_fills):
        raise Malformed("fill", "zero maker fill")


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
