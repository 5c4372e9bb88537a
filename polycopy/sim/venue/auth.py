"""API keys: L1 (ClobAuth EIP-712 signature) and L2 (HMAC) checks (PROTOCOL.md §5.1)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Mapping

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from polycopy.sim.venue.orders import recover

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
_AUTH_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId)")
_CLOB_AUTH_TYPEHASH = keccak(
    text="ClobAuth(address address,string timestamp,uint256 nonce,string message)"
)
L1_ERROR = "Invalid L1 Request headers"
L2_ERROR = "Unauthorized/Invalid api key"


class AuthError(Exception):
    """401 with the venue's error text."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ApiKey:
    key: str
    secret: str  # URL-safe base64
    passphrase: str
    address: str  # checksummed EOA the key is bound to

    def creds(self) -> dict:
        return {"apiKey": self.key, "secret": self.secret, "passphrase": self.passphrase}


def clob_auth_digest(address: str, timestamp: str, nonce: int, chain_id: int) -> bytes:
    domain = keccak(encode(["bytes32", "bytes32", "bytes32", "uint256"], [
        _AUTH_DOMAIN_TYPEHASH, keccak(text="ClobAuthDomain"), keccak(text="1"), chain_id]))
    struct = keccak(encode(["bytes32", "address", "bytes32", "uint256", "bytes32"], [
        _CLOB_AUTH_TYPEHASH, address, keccak(text=timestamp), nonce,
        keccak(text=CLOB_AUTH_MESSAGE)]))
    return keccak(b"\x19\x01" + domain + struct)


def verify_l1(headers: Mapping[str, str], chain_id: int) -> tuple[str, int]:
    """(checksummed address, nonce) of valid L1 headers; AuthError otherwise."""
    try:
        address = to_checksum_address(headers["POLY_ADDRESS"])
        timestamp = headers["POLY_TIMESTAMP"]
        nonce = int(headers.get("POLY_NONCE", "0"))
        sig = bytes.fromhex(headers["POLY_SIGNATURE"].removeprefix("0x"))
    except (KeyError, ValueError, TypeError):
        raise AuthError(L1_ERROR) from None
    if nonce < 0 or recover(clob_auth_digest(address, timestamp, nonce, chain_id), sig) != address:
        raise AuthError(L1_ERROR)
    return address, nonce


def hmac_signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    key = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    message = f"{timestamp}{method}{path}".encode() + body
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


class KeyStore:
    """API keys by key id and by (address, nonce); keys derive deterministically per venue."""

    def __init__(self) -> None:
        self._seed = secrets.token_bytes(32)
        self.by_key: dict[str, ApiKey] = {}
        self.by_owner: dict[tuple[str, int], ApiKey] = {}

    def register(self, address: str, key: str, secret: str, passphrase: str,
                 nonce: int = 0) -> ApiKey:
        api = ApiKey(key=key, secret=secret, passphrase=passphrase,
                     address=to_checksum_address(address))
        self.by_key[key] = api
        self.by_owner[(api.address, nonce)] = api
        return api

    def derive(self, address: str, nonce: int) -> ApiKey:
        """The key for (address, nonce), creating it on first use."""
        existing = self.by_owner.get((address, nonce))
        if existing:
            return existing
        material = hashlib.sha256(self._seed + f"{address}:{nonce}".encode()).digest()
        return self.register(
            address,
            key=str(uuid.UUID(bytes=material[:16], version=4)),
            secret=base64.urlsafe_b64encode(hashlib.sha256(material + b"s").digest()).decode(),
            passphrase=hashlib.sha256(material + b"p").hexdigest(),
            nonce=nonce,
        )

    def remove(self, key: str) -> None:
        api = self.by_key.pop(key)
        self.by_owner = {k: v for k, v in self.by_owner.items() if v is not api}

    def verify_l2(self, headers: Mapping[str, str], method: str, path: str,
                  body: bytes) -> ApiKey:
        """The ApiKey behind valid L2 headers over (method, path without query, raw body)."""
        api = self.by_key.get(headers.get("POLY_API_KEY", ""))
        if api is None or not hmac.compare_digest(
                headers.get("POLY_PASSPHRASE", ""), api.passphrase):
            raise AuthError(L2_ERROR)
        if headers.get("POLY_ADDRESS", "").lower() != api.address.lower():
            raise AuthError(L2_ERROR)
        timestamp = headers.get("POLY_TIMESTAMP", "")
        try:
            expected = hmac_signature(api.secret, timestamp, method, path, body)
        except ValueError:
            raise AuthError(L2_ERROR) from None
        if not timestamp.isdigit() or not hmac.compare_digest(
                headers.get("POLY_SIGNATURE", ""), expected):
            raise AuthError(L2_ERROR)
        return api
