"""Order signing with the official SDK (`polymarket-client`, through venue/sdk.py): the
order hash (= order ID), L1 and L2 auth headers, and the SDK environment for other hosts.

Signing is local code; nothing here does network I/O. Posting goes over our own session
(`polycopy.clients.clob_rest`), never through the SDK's post-and-wait calls.
Domain choice (CLOB-V2.md §2.2): Gamma `version` "v2" -> ExchangeV3, domain "3"; otherwise
domain "2" with the neg-risk or the standard exchange.
`sign` hashes with `eip712` and signs with coincurve; `_sign_reference` is the SDK path it must equal.
"""
from __future__ import annotations

import dataclasses
import json
import secrets
import time
from dataclasses import dataclass

import coincurve
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

from polycopy.errors import ConfigError
from polycopy.venue import eip712
from polycopy.venue.sdk import (BYTES32_ZERO, PRODUCTION_CONFIG, UnsignedOrder, build_hmac_signature,
                                build_order_signature, build_order_typed_data, build_post_order_request,
                                classify_account, create_environment, create_signed_order,
                                derive_beacon_deposit_wallet_address, derive_proxy_wallet_address,
                                derive_safe_wallet_address, is_v2_position_id, sign_api_key_auth,
                                wrap_deposit_wallet_signature)
from polycopy.venue.orders import OrderPlan

_WALLET_NAMES = {0: "EOA", 1: "POLY_PROXY", 2: "GNOSIS_SAFE", 3: "DEPOSIT_WALLET"}
_SIDES = {"BUY": 0, "SELL": 1}
_ZERO_WORD = eip712.bytes32_word(BYTES32_ZERO)


@dataclass(frozen=True, slots=True)
class ApiCreds:
    key: str
    secret: str
    passphrase: str

    def __repr__(self) -> str:  # never show the values
        return "ApiCreds(***)"


@dataclass(frozen=True, slots=True)
class SignedOrder:
    """A signed order ready to post: its ID and the exact `order` JSON to send (and re-send)."""

    order_id: str  # 0x EIP-712 digest
    order_json: str  # compact JSON of the `order` object, SDK key order
    order_type: str  # "FAK" | "FOK"
    maker: str
    domain_version: str  # "2" | "3"


def environment_config(*, clob_url: str, clob_ws_user_url: str, clob_ws_market_url: str, chain_id: int):
    """The SDK's production config pointed at other hosts (its environment API is private)."""
    return dataclasses.replace(PRODUCTION_CONFIG, clob_url=clob_url, clob_user_ws_url=clob_ws_user_url,
                               clob_market_ws_url=clob_ws_market_url, chain_id=chain_id)


def environment(name: str, **kwargs):
    return create_environment(name=name, config=environment_config(**kwargs))


def exchange_for(config, *, version: str, neg_risk: bool) -> tuple[str, str]:
    """(EIP-712 domain version, verifying contract)."""
    if version == "v2":
        return "3", config.exchange_v3
    return "2", config.neg_risk_exchange if neg_risk else config.standard_exchange


class ClobSigner:
    """Holds the key; signs orders and auth messages. Built once at start-up."""

    def __init__(self, private_key: str, *, signature_type: int = 0, funder: str | None = None,
                 chain_id: int = 137, config=PRODUCTION_CONFIG):
        try:
            self._account = Account.from_key(private_key)
        except (ValueError, TypeError):
            raise ConfigError("POLYCOPY_PRIVATE_KEY is not a valid private key (64 hex digits)") from None
        self.config = dataclasses.replace(config, chain_id=chain_id)
        self.address = self._account.address
        self.signature_type = signature_type
        self.maker = self._maker(funder)
        self.signer_type = "OWNER"
        if signature_type == 3:
            self.signer_type = classify_account(signer=self.address, wallet=self.maker,
                                                config=self.config.wallet_derivation).signer_type
        self._signer = self.maker if signature_type == 3 else self.address  # the order's `signer` field
        self._maker_word, self._signer_word = eip712.address_word(self.maker), eip712.address_word(self._signer)
        self._key = coincurve.PrivateKey(bytes(self._account.key))

    def _maker(self, funder: str | None) -> str:
        derive = self.config.wallet_derivation
        t = self.signature_type
        if t == 0:
            if funder and to_checksum_address(funder) != self.address:
                raise ConfigError("signature type 0 (EOA): POLYCOPY_FUNDER must be empty or the key's own address")
            return self.address
        if t not in _WALLET_NAMES:
            raise ConfigError("POLYCOPY_SIGNATURE_TYPE must be 0, 1, 2 or 3")
        expected = {1: derive_proxy_wallet_address, 2: derive_safe_wallet_address,
                    3: derive_beacon_deposit_wallet_address}[t](self.address, derive)
        if not funder:
            return expected
        funder = to_checksum_address(funder)
        if t in (1, 2) and funder != expected:
            raise ConfigError(f"signature type {t} ({_WALLET_NAMES[t]}): POLYCOPY_FUNDER is not the wallet this "
                              f"key controls (expected {expected}); check the funder address or the signature type")
        return funder

    def sign(self, plan: OrderPlan, *, version: str = "v1", neg_risk: bool = False,
             salt: int | None = None, timestamp_ms: int | None = None) -> SignedOrder:
        """Sign with the precomputed EIP-712 digest and coincurve (same bytes as the SDK path)."""
        domain_version, unsigned = self._unsigned(plan, version, neg_risk, salt, timestamp_ms)
        separator = eip712.domain_separator(domain_version, unsigned.chain_id, unsigned.exchange_address)
        if unsigned.side not in _SIDES:
            raise ValueError(f"order side must be BUY or SELL, not {unsigned.side!r}")
        struct = eip712.order_struct_hash(
            salt=unsigned.salt, maker=self._maker_word, signer=self._signer_word, token_id=int(unsigned.token_id),
            maker_amount=unsigned.maker_amount, taker_amount=unsigned.taker_amount, side=_SIDES[unsigned.side],
            signature_type=self.signature_type, timestamp=unsigned.timestamp, metadata=_ZERO_WORD, builder=_ZERO_WORD)
        order_id = eip712.digest(separator, struct)
        if self.signature_type != 3:
            sig = self._sign_digest(order_id)
        else:  # ERC-7739: sign the TypedDataSign digest, append appDomainSeparator || contentsHash || type
            sig = (self._sign_digest(eip712.deposit_wallet_digest(separator, struct, unsigned.chain_id,
                                                                   self._signer_word))
                   + separator.hex() + struct.hex() + eip712.CONTENTS_TYPE_TRAILER)
            sig = wrap_deposit_wallet_signature(signer=self.address, signer_type=self.signer_type, signature=sig)
        return self._signed(unsigned, sig, "0x" + order_id.hex(), plan.order_type, domain_version)

    def _sign_reference(self, plan: OrderPlan, *, version: str = "v1", neg_risk: bool = False,
                        salt: int | None = None, timestamp_ms: int | None = None) -> SignedOrder:
        """The SDK + eth_account path `sign` must equal byte for byte (kept for the tests)."""
        domain_version, unsigned = self._unsigned(plan, version, neg_risk, salt, timestamp_ms)
        typed = build_order_typed_data(unsigned, protocol_version=domain_version)
        raw = self._account.sign_typed_data(full_message=typed).signature.hex()
        sig = build_order_signature(unsigned, raw if raw.startswith("0x") else "0x" + raw,
                                    protocol_version=domain_version)
        sig = wrap_deposit_wallet_signature(signer=self.address, signer_type=self.signer_type, signature=sig)
        return self._signed(unsigned, sig, order_hash(typed), plan.order_type, domain_version)

    def _unsigned(self, plan: OrderPlan, version: str, neg_risk: bool, salt: int | None,
                  timestamp_ms: int | None) -> tuple[str, UnsignedOrder]:
        domain_version, exchange = exchange_for(self.config, version=version, neg_risk=neg_risk)
        return domain_version, UnsignedOrder(
            chain_id=self.config.chain_id, builder=BYTES32_ZERO, exchange_address=exchange, expiration=0,
            maker=self.maker, maker_amount=plan.maker_amount, metadata=BYTES32_ZERO,
            order_type=plan.order_type, salt=secrets.randbits(53) if salt is None else salt, side=plan.side,
            signature_type=self.signature_type, signer=self._signer,
            taker_amount=plan.taker_amount, timestamp=int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            token_id=plan.token_id, protocol_version=domain_version,
        )

    def _sign_digest(self, digest: bytes) -> str:
        """0x r || s || v (v = recovery id + 27), as eth_account writes it."""
        rsv = self._key.sign_recoverable(digest, hasher=None)
        return "0x" + rsv[:64].hex() + f"{rsv[64] + 27:02x}"

    def _signed(self, unsigned: UnsignedOrder, sig: str, order_id: str, order_type: str,
                domain_version: str) -> SignedOrder:
        _, payload = build_post_order_request(create_signed_order(unsigned, sig), owner_api_key="")
        return SignedOrder(order_id=order_id, order_json=compact(payload["order"]), order_type=order_type,
                           maker=self.maker, domain_version=domain_version)

    def l1_headers(self, *, timestamp: int | None = None, nonce: int = 0) -> dict[str, str]:
        ts = int(time.time()) if timestamp is None else timestamp
        auth = sign_api_key_auth(self._account, chain_id=self.config.chain_id, timestamp=ts, nonce=nonce)
        return {"POLY_ADDRESS": auth.address, "POLY_SIGNATURE": auth.signature,
                "POLY_TIMESTAMP": str(auth.timestamp), "POLY_NONCE": str(auth.nonce)}

    def __repr__(self) -> str:
        return f"ClobSigner({self.address}, type {self.signature_type})"


def order_hash(typed: dict) -> str:
    """The order ID: the EIP-712 digest of the Order struct (for type 3, of the inner contents)."""
    if typed["primaryType"] == "TypedDataSign":
        typed = {"types": {k: typed["types"][k] for k in ("EIP712Domain", "Order")}, "primaryType": "Order",
                 "domain": typed["domain"], "message": typed["message"]["contents"]}
    m = encode_typed_data(full_message=typed)
    return "0x" + keccak(b"\x19" + m.version + m.header + m.body).hex()


def compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def post_body(signed: SignedOrder, owner: str) -> str:
    """The exact POST /order body. The signed `order` JSON is embedded byte for byte."""
    return ('{"deferExec":false,"order":' + signed.order_json + ',"orderType":' + json.dumps(signed.order_type)
            + ',"owner":' + json.dumps(owner) + "}")


def l2_headers(creds: ApiCreds, address: str, method: str, path: str, body: str | None = None,
               timestamp: int | None = None) -> dict[str, str]:
    """HMAC headers; `path` without the query string, `body` the exact bytes sent."""
    ts = int(time.time()) if timestamp is None else timestamp
    sig = build_hmac_signature(secret=creds.secret, timestamp=ts, method=method.upper(), path=path, body=body)
    return {"POLY_ADDRESS": address, "POLY_API_KEY": creds.key, "POLY_PASSPHRASE": creds.passphrase,
            "POLY_TIMESTAMP": str(ts), "POLY_SIGNATURE": sig}


def version_of(token_id: str) -> str:
    """Gamma-style market version from the id alone (the SDK's rule): "v2" for a V2 position id."""
    return "v2" if is_v2_position_id(token_id) else "v1"
