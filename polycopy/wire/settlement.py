"""Operator settlement calldata (`matchOrders`): the decoded call, and its encoding. Pure.

CTF Exchange V2 and its neg-risk twin share `matchOrders(bytes32,Order,Order[],uint256,uint256[],
uint256,uint256[])` (0x3c2b4399); ExchangeV3 has `matchOrders(Order,Order[],uint256[],uint256[],
(uint256,uint256,uint256))` (0x0fb25ba4). MEMPOOL.md §1. Amounts are 6-decimal integers.
`decode_calldata` raises `NotSettlement` for another contract or function and `Malformed` for
calldata that does not decode or cannot be a valid match; `encode_calldata` is its inverse
(polysim builds its settlements with it). What the decoded call means for a wallet (its legs,
its fills): venue/mempool.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode
from eth_utils import keccak

from polycopy.errors import Malformed, NotSettlement
from polycopy.wire import abi_settlement

V2_EXCHANGE = "0xe111180000d2663c0091e4f400237545b87b996b"
NEG_RISK_V2_EXCHANGE = "0xe2222d279d744050d28e00520010520000310f59"
V3_EXCHANGE = "0xe3333700ca9d93003f00f0f71f8515005f6c00aa"
EXCHANGES = {V2_EXCHANGE: "2", NEG_RISK_V2_EXCHANGE: "2", V3_EXCHANGE: "3"}  # -> EIP-712 version

ORDER = "(uint256,address,address,uint256,uint256,uint256,uint8,uint8,uint256,bytes32,bytes32,bytes)"
ARGS = {"2": ["bytes32", ORDER, ORDER + "[]", "uint256", "uint256[]", "uint256", "uint256[]"],
        "3": [ORDER, ORDER + "[]", "uint256[]", "uint256[]", "(uint256,uint256,uint256)"]}
SELECTORS = {v: "0x" + keccak(text=f"matchOrders({','.join(a)})")[:4].hex() for v, a in ARGS.items()}
BUY, SELL = 0, 1


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
    except Malformed:
        raise
    except ValueError as e:  # odd or non-hex input from fromhex
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
