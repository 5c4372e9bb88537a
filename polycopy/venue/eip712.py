"""The CLOB Order EIP-712 digest, computed directly (no generic typed-data encoder).

Types copied from the SDK's `build_order_typed_data` (polymarket._internal.actions.orders.typed_data)
and CLOB-V2.md §2.2 / type 3 (`TypedDataSign`, ERC-7739). The domain separator and type hashes are
fixed per (domain version, verifying contract, chain id); per order only two or three keccaks remain.
tests/unit/test_clob_fast_sign.py checks every digest against eth_account's encoder.
"""
from __future__ import annotations

from functools import lru_cache

from eth_hash.auto import keccak

ORDER_TYPE = ("Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
              "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)")
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
TYPED_DATA_SIGN_TYPE = ("TypedDataSign(Order contents,string name,string version,uint256 chainId,"
                        "address verifyingContract,bytes32 salt)" + ORDER_TYPE)
EXCHANGE_NAME = "Polymarket CTF Exchange"
DEPOSIT_WALLET_NAME, DEPOSIT_WALLET_VERSION = "DepositWallet", "1"

ORDER_TYPEHASH = keccak(ORDER_TYPE.encode())
_DOMAIN_TYPEHASH = keccak(DOMAIN_TYPE.encode())
_TYPED_DATA_SIGN_TYPEHASH = keccak(TYPED_DATA_SIGN_TYPE.encode())
_DEPOSIT_WALLET_NAME_HASH = keccak(DEPOSIT_WALLET_NAME.encode())
_DEPOSIT_WALLET_VERSION_HASH = keccak(DEPOSIT_WALLET_VERSION.encode())
# type 3 signature trailer after appDomainSeparator || contentsHash: the type string and its uint16 length
CONTENTS_TYPE_TRAILER = ORDER_TYPE.encode().hex() + f"{len(ORDER_TYPE):04x}"
_ZERO32 = bytes(32)


def uint256(value: int, name: str = "value") -> bytes:
    """A 32-byte ABI word; a clear error for negative or too large values."""
    try:
        return value.to_bytes(32, "big")
    except (OverflowError, AttributeError):
        raise ValueError(f"order field {name} is not a uint256: {value!r}") from None


def address_word(address: str) -> bytes:
    """A 0x address as a left-padded 32-byte ABI word."""
    raw = bytes.fromhex(address[2:] if address[:2] in ("0x", "0X") else address)
    if len(raw) != 20:
        raise ValueError(f"not a 20-byte address: {address!r}")
    return raw.rjust(32, b"\x00")


def bytes32_word(value: str) -> bytes:
    raw = bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
    if len(raw) != 32:
        raise ValueError(f"not a bytes32 value: {value!r}")
    return raw


@lru_cache(maxsize=32)
def domain_separator(version: str, chain_id: int, verifying_contract: str) -> bytes:
    """EIP712Domain(name "Polymarket CTF Exchange", version, chainId, verifyingContract) hash."""
    return keccak(_DOMAIN_TYPEHASH + keccak(EXCHANGE_NAME.encode()) + keccak(version.encode())
                  + uint256(chain_id, "chainId") + address_word(verifying_contract))


def order_struct_hash(*, salt: int, maker: bytes, signer: bytes, token_id: int, maker_amount: int,
                      taker_amount: int, side: int, signature_type: int, timestamp: int, metadata: bytes,
                      builder: bytes) -> bytes:
    """hashStruct(Order); `maker`, `signer`, `metadata`, `builder` are already 32-byte words."""
    if side not in (0, 1) or not 0 <= signature_type <= 255:
        raise ValueError(f"order side {side!r} or signature type {signature_type!r} out of range")
    return keccak(b"".join((
        ORDER_TYPEHASH, uint256(salt, "salt"), maker, signer, uint256(token_id, "tokenId"),
        uint256(maker_amount, "makerAmount"), uint256(taker_amount, "takerAmount"),
        side.to_bytes(32, "big"), signature_type.to_bytes(32, "big"), uint256(timestamp, "timestamp"),
        metadata, builder)))


def digest(separator: bytes, struct_hash: bytes) -> bytes:
    """keccak(0x1901 || domainSeparator || structHash)."""
    return keccak(b"\x19\x01" + separator + struct_hash)


def deposit_wallet_digest(separator: bytes, order_struct: bytes, chain_id: int, wallet: bytes) -> bytes:
    """Type 3: the digest of TypedDataSign{contents: Order, DepositWallet "1", chainId, wallet, salt 0}
    under the exchange domain; `wallet` is the 32-byte word of the order's signer (= maker)."""
    inner = keccak(_TYPED_DATA_SIGN_TYPEHASH + order_struct + _DEPOSIT_WALLET_NAME_HASH
                   + _DEPOSIT_WALLET_VERSION_HASH + uint256(chain_id, "chainId") + wallet + _ZERO32)
    return digest(separator, inner)
