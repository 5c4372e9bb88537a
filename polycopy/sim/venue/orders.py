"""V2 order bodies: parsing, EIP-712 hashing, signature verification (CLOB-V2.md §2).

The order ID is the EIP-712 digest. Signature types 0/1/2 must ecrecover to `signer`;
type 3 (POLY_1271) carries an ERC-7739-wrapped signature: its parts must match the order
and its inner ECDSA over the TypedDataSign digest gives the wallet's owner EOA (session-key
wrapped signatures are not supported). Whether the maker wallet belongs to that EOA is
checked by the engine (`wallets.py`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from coincurve import PublicKey
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

ORDER_TYPE = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,"
    "bytes32 builder)"
)
ORDER_TYPEHASH = keccak(text=ORDER_TYPE)
DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
TYPED_DATA_SIGN_TYPEHASH = keccak(
    text="TypedDataSign(Order contents,string name,string version,uint256 chainId,"
    "address verifyingContract,bytes32 salt)" + ORDER_TYPE
)
EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
UNIT = Decimal("0.000001")  # pUSD and shares have 6 decimals

V1_FIELDS = ("nonce", "feeRateBps", "taker")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_BYTES32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_HEX = re.compile(r"^0x(?:[0-9a-fA-F]{2})+$")
_UINT = re.compile(r"^[0-9]{1,78}$")


class OrderError(Exception):
    """A rejected order: `status` and the `{"error": message}` the venue answers."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class SignedOrder:
    salt: int
    maker: str
    signer: str
    token_id: str
    maker_amount: int
    taker_amount: int
    side: str  # "BUY" | "SELL"
    expiration: int
    signature_type: int
    timestamp: int
    metadata: str
    builder: str
    signature: str

    @property
    def price(self) -> Decimal:
        """Limit price in pUSD per share."""
        if self.side == "BUY":
            return Decimal(self.maker_amount) / Decimal(self.taker_amount)
        return Decimal(self.taker_amount) / Decimal(self.maker_amount)

    @property
    def shares(self) -> Decimal:
        units = self.taker_amount if self.side == "BUY" else self.maker_amount
        return Decimal(units) * UNIT

    @property
    def pusd(self) -> Decimal:
        units = self.maker_amount if self.side == "BUY" else self.taker_amount
        return Decimal(units) * UNIT


def _uint(raw: object, name: str) -> int:
    if isinstance(raw, bool):
        raise OrderError("Invalid order payload")
    if isinstance(raw, int) and raw >= 0:
        return raw
    if isinstance(raw, str) and _UINT.match(raw):
        return int(raw)
    raise OrderError("Invalid order payload")


def _match(raw: object, pattern: re.Pattern) -> str:
    if not isinstance(raw, str) or not pattern.match(raw):
        raise OrderError("Invalid order payload")
    return raw


def parse_order(raw: object) -> SignedOrder:
    """The `order` object of a POST body -> SignedOrder; V1 shapes are refused."""
    if not isinstance(raw, dict):
        raise OrderError("Invalid order payload")
    if any(k in raw for k in V1_FIELDS) or "timestamp" not in raw:
        raise OrderError("order_version_mismatch")
    side = raw.get("side")
    sig_type = raw.get("signatureType")
    if side not in ("BUY", "SELL") or sig_type not in (0, 1, 2, 3):
        raise OrderError("Invalid order payload")
    order = SignedOrder(
        salt=_uint(raw.get("salt"), "salt"),
        maker=to_checksum_address(_match(raw.get("maker"), _ADDRESS)),
        signer=to_checksum_address(_match(raw.get("signer"), _ADDRESS)),
        token_id=str(_uint(raw.get("tokenId"), "tokenId")),
        maker_amount=_uint(raw.get("makerAmount"), "makerAmount"),
        taker_amount=_uint(raw.get("takerAmount"), "takerAmount"),
        side=side,
        expiration=_uint(raw.get("expiration", "0"), "expiration"),
        signature_type=sig_type,
        timestamp=_uint(raw.get("timestamp"), "timestamp"),
        metadata=_match(raw.get("metadata"), _BYTES32),
        builder=_match(raw.get("builder"), _BYTES32),
        signature=_match(raw.get("signature"), _HEX),
    )
    if order.maker_amount == 0 or order.taker_amount == 0 or order.token_id != raw["tokenId"]:
        raise OrderError("Invalid order payload")
    return order


def exchange_domain(*, version: str, neg_risk: bool) -> tuple[str, str]:
    """(EIP-712 domain version, verifying contract) for a market's `version`/`neg_risk`."""
    if version == "v2":
        return "3", EXCHANGE_V3
    return "2", NEG_RISK_EXCHANGE if neg_risk else EXCHANGE


def domain_separator(chain_id: int, version: str, contract: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [DOMAIN_TYPEHASH, keccak(text="Polymarket CTF Exchange"), keccak(text=version),
             chain_id, contract],
        )
    )


def struct_hash(o: SignedOrder) -> bytes:
    return keccak(
        encode(
            ["bytes32", "uint256", "address", "address", "uint256", "uint256", "uint256",
             "uint8", "uint8", "uint256", "bytes32", "bytes32"],
            [ORDER_TYPEHASH, o.salt, o.maker, o.signer, int(o.token_id), o.maker_amount,
             o.taker_amount, 0 if o.side == "BUY" else 1, o.signature_type, o.timestamp,
             bytes.fromhex(o.metadata[2:]), bytes.fromhex(o.builder[2:])],
        )
    )


def order_digest(o: SignedOrder, separator: bytes) -> bytes:
    return keccak(b"\x19\x01" + separator + struct_hash(o))


def recover(digest: bytes, sig: bytes) -> str | None:
    """ecrecover of a 65-byte r||s||v signature; None when it cannot be recovered."""
    if len(sig) != 65:
        return None
    v = sig[64] - 27 if sig[64] >= 27 else sig[64]
    if v not in (0, 1):
        return None
    try:
        pub = PublicKey.from_signature_and_message(sig[:64] + bytes([v]), digest, hasher=None)
    except Exception:  # noqa: BLE001 - coincurve raises plain Exception on bad points
        return None
    return to_checksum_address(keccak(pub.format(compressed=False)[1:])[-20:])


def signing_owner(o: SignedOrder, separator: bytes, chain_id: int) -> str | None:
    """The EOA that signed `o` (for type 3: the deposit wallet's owner), or None."""
    sig = bytes.fromhex(o.signature[2:])
    sh = struct_hash(o)
    digest = keccak(b"\x19\x01" + separator + sh)
    if o.signature_type != 3:
        owner = recover(digest, sig)
        return owner if owner == o.signer else None
    if o.maker != o.signer or len(sig) < 65 + 64 + 2:
        return None
    type_len = int.from_bytes(sig[-2:], "big")
    contents_type = sig[-2 - type_len:-2]
    if (len(sig) != 65 + 64 + type_len + 2 or contents_type != ORDER_TYPE.encode()
            or sig[65:97] != separator or sig[97:129] != sh):
        return None
    wrapped = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "bytes32", "uint256", "address", "bytes32"],
            [TYPED_DATA_SIGN_TYPEHASH, sh, keccak(text="DepositWallet"), keccak(text="1"),
             chain_id, o.maker, b"\x00" * 32],
        )
    )
    return recover(keccak(b"\x19\x01" + separator + wrapped), sig[:65])
