"""Relayer authentication (VENUE-2026-12.md §0.4, §2.4; the SDK's
`_internal/actions/relayer/auth.py` and `_internal/hmac.py` send these headers):

- Relayer API key: `RELAYER_API_KEY` and `RELAYER_API_KEY_ADDRESS`, which must be the key's
  owner. polysim also requires the owner to be the signing EOA or the wallet of what it
  submits (a key cannot act for someone else's wallet).
- Builder API key: `POLY_BUILDER_API_KEY`, `POLY_BUILDER_PASSPHRASE`, `POLY_BUILDER_TIMESTAMP`
  (unix s, within `MAX_SKEW_S`), `POLY_BUILDER_SIGNATURE` = URL-safe base64 HMAC-SHA256 keyed
  with the base64-decoded secret over timestamp + METHOD + path (no query) + body. Builder keys
  relay for any wallet.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

from eth_utils import to_checksum_address

MAX_SKEW_S = 300


class Unauthorized(Exception):
    pass


class RelayerKeys:
    def __init__(self):
        self.relayer: dict[str, str] = {}  # key -> owner (checksummed)
        self.builder: dict[str, tuple[str, str]] = {}  # key -> (secret, passphrase)

    def add_relayer_key(self, key: str, address: str) -> None:
        self.relayer[key] = to_checksum_address(address)

    def add_builder_key(self, key: str, secret: str, passphrase: str) -> None:
        self.builder[key] = (secret, passphrase)

    def check(self, headers, method: str, path: str, body: bytes) -> str | None:
        """The caller's owner address, None for a builder key; Unauthorized otherwise."""
        key = headers.get("RELAYER_API_KEY")
        if key is not None:
            owner = self.relayer.get(key)
            claimed = headers.get("RELAYER_API_KEY_ADDRESS", "")
            if owner is None or claimed.lower() != owner.lower():
                raise Unauthorized("invalid relayer api key")
            return owner
        key = headers.get("POLY_BUILDER_API_KEY")
        if key is None or key not in self.builder:
            raise Unauthorized("missing or unknown api key")
        secret, passphrase = self.builder[key]
        stamp = headers.get("POLY_BUILDER_TIMESTAMP", "")
        if headers.get("POLY_BUILDER_PASSPHRASE") != passphrase or not stamp.isdigit() or abs(
                time.time() - int(stamp)) > MAX_SKEW_S:
            raise Unauthorized("invalid builder credentials")
        try:
            raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
        except (binascii.Error, ValueError):
            raise Unauthorized("invalid builder credentials") from None
        message = f"{stamp}{method}{path}".encode() + body
        want = base64.urlsafe_b64encode(hmac.new(raw, message, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(want, headers.get("POLY_BUILDER_SIGNATURE", "")):
            raise Unauthorized("invalid builder signature")
        return None
