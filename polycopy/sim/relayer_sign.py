"""The relayer's check of a `POST /submit` body: who signed it, for which wallet, which calls.

Written from VENUE-2026-12.md §2.4 (the SDK's `_internal/actions/relayer/gasless.py` and
`signing/*.py` build these bodies); polysim recomputes every digest itself:
- PROXY (signature type 1): personal_sign of keccak("rlx:" ‖ from ‖ to ‖ data ‖ relayerFee ‖
  gasPrice ‖ gasLimit ‖ nonce ‖ relayHub ‖ relay); `to` the proxy factory, `proxyWallet` the
  proxy derived from `from`, `data` = `proxy((uint8,address,uint256,bytes)[])` (0x34ee9791).
- SAFE (type 2): EIP-712 SafeTx over domain {chainId, verifyingContract: safe}, signed with
  personal_sign and v + 4; `to` the call's target or MultiSend (operation 1, `multiSend(bytes)`).
- WALLET (deposit wallet, type 3): EIP-712 Batch(wallet, nonce, deadline, Call[]) over domain
  {"DepositWallet", "1", chainId, wallet}; the deadline must not have passed.
Session-key (wrapped) deposit-wallet signatures are not accepted.
"""
from __future__ import annotations

import time

from eth_abi import decode
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import keccak, to_checksum_address

from polymarket._internal.environment import PRODUCTION_CONFIG as CFG

from polycopy.sim.venue.wallets import wallets_of

PROXY_CALL, MULTISEND = "34ee9791", "8d80ff0a"
ZERO = "0x" + "00" * 20


class Rejected(Exception):
    """A submit the relayer refuses with 400 and this message."""


def _hex(value, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise Rejected(f"invalid {name}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise Rejected(f"invalid {name}") from None


def _uint(value, name: str) -> int:
    if not isinstance(value, str) or not value.isdigit() or len(value) > 78:
        raise Rejected(f"invalid {name}")
    return int(value)


def _recover(signable, signature: bytes) -> str:
    try:
        return Account.recover_message(signable, signature=signature)
    except Exception:  # noqa: BLE001 - any malformed signature is just a bad signature
        raise Rejected("invalid signature") from None


def _owned(eoa: str, wallet, sig_type: int) -> str:
    try:
        wallet = to_checksum_address(str(wallet))
    except ValueError:
        raise Rejected("invalid wallet address") from None
    if wallet.lower() not in wallets_of(eoa, sig_type):
        raise Rejected(f"wallet {wallet} is not controlled by {eoa}")
    return wallet


def check_proxy(body: dict, relay: str, chain_id: int) -> tuple[str, list]:
    signer = to_checksum_address(str(body.get("from")))
    params = body.get("signatureParams") or {}
    data = _hex(body.get("data"), "data")
    if str(body.get("to", "")).lower() != CFG.wallet_derivation.proxy_factory.lower():
        raise Rejected("to must be the proxy factory")
    if str(params.get("relayHub", "")).lower() != CFG.relay_hub.lower() or str(
            params.get("relay", "")).lower() != relay.lower():
        raise Rejected("invalid relay or relay hub")
    digest = keccak(b"rlx:" + _hex(signer, "from") + _hex(body["to"], "to") + data
                    + b"".join(_uint(params.get(k), k).to_bytes(32, "big")
                               for k in ("relayerFee", "gasPrice", "gasLimit"))
                    + _uint(body.get("nonce"), "nonce").to_bytes(32, "big")
                    + _hex(params["relayHub"], "relayHub") + _hex(params["relay"], "relay"))
    if _recover(encode_defunct(primitive=digest), _hex(body.get("signature"), "signature")) != signer:
        raise Rejected("invalid signature")
    wallet = _owned(signer, body.get("proxyWallet"), 1)
    if data[:4].hex() != PROXY_CALL:
        raise Rejected("data must be a proxy(...) call")
    try:
        (items,) = decode(["(uint8,address,uint256,bytes)[]"], data[4:])
    except Exception:  # noqa: BLE001
        raise Rejected("undecodable proxy calls") from None
    return wallet, [(to, payload) for _kind, to, _value, payload in items]


def check_safe(body: dict, chain_id: int) -> tuple[str, list]:
    signer = to_checksum_address(str(body.get("from")))
    wallet = _owned(signer, body.get("proxyWallet"), 2)
    params, data = body.get("signatureParams") or {}, _hex(body.get("data"), "data")
    operation = _uint(params.get("operation"), "operation")
    typed = {
        "domain": {"chainId": chain_id, "verifyingContract": wallet},
        "types": {"EIP712Domain": [{"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "SafeTx": [{"name": n, "type": t} for n, t in (
                      ("to", "address"), ("value", "uint256"), ("data", "bytes"),
                      ("operation", "uint8"), ("safeTxGas", "uint256"), ("baseGas", "uint256"),
                      ("gasPrice", "uint256"), ("gasToken", "address"),
                      ("refundReceiver", "address"), ("nonce", "uint256"))]},
        "primaryType": "SafeTx",
        "message": {"to": to_checksum_address(str(body.get("to"))),
                    "value": int(body.get("value", "0")), "data": data, "operation": operation,
                    "safeTxGas": 0, "baseGas": 0, "gasPrice": 0, "gasToken": ZERO,
                    "refundReceiver": ZERO, "nonce": _uint(body.get("nonce"), "nonce")}}
    signable = encode_typed_data(full_message=typed)
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    sig = bytearray(_hex(body.get("signature"), "signature"))
    if len(sig) != 65 or sig[64] not in (31, 32):
        raise Rejected("invalid signature")
    sig[64] -= 4
    if _recover(encode_defunct(primitive=digest), bytes(sig)) != signer:
        raise Rejected("invalid signature")
    if operation == 0:
        return wallet, [(typed["message"]["to"], data)]
    if data[:4].hex() != MULTISEND or str(body.get("to")).lower() != CFG.safe_multisend.lower():
        raise Rejected("operation 1 must be a MultiSend call")
    return wallet, _multisend(decode(["bytes"], data[4:])[0])


def _multisend(packed: bytes) -> list:
    calls, i = [], 0
    while i < len(packed):
        to = "0x" + packed[i + 1:i + 21].hex()
        size = int.from_bytes(packed[i + 53:i + 85], "big")
        calls.append((to, packed[i + 85:i + 85 + size]))
        i += 85 + size
    return calls


def check_wallet(body: dict, chain_id: int, now: float | None = None) -> tuple[str, list]:
    signer = to_checksum_address(str(body.get("from")))
    params = body.get("depositWalletParams") or {}
    wallet = _owned(signer, params.get("depositWallet"), 3)
    if str(body.get("to", "")).lower() != CFG.wallet_derivation.deposit_wallet_factory.lower():
        raise Rejected("to must be the deposit wallet factory")
    deadline = _uint(params.get("deadline"), "deadline")
    if deadline < (now or time.time()):
        raise Rejected("deadline passed")
    raw_calls = params.get("calls")
    if not isinstance(raw_calls, list) or not raw_calls:
        raise Rejected("calls must be a non-empty list")
    calls = [{"target": to_checksum_address(str(c.get("target"))), "value": _uint(c.get("value"), "value"),
              "data": _hex(c.get("data"), "data")} for c in raw_calls if isinstance(c, dict)]
    if len(calls) != len(raw_calls):
        raise Rejected("invalid calls")
    typed = {
        "domain": {"name": "DepositWallet", "version": "1", "chainId": chain_id,
                   "verifyingContract": wallet},
        "types": {"EIP712Domain": [{"name": "name", "type": "string"},
                                   {"name": "version", "type": "string"},
                                   {"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "Batch": [{"name": "wallet", "type": "address"},
                            {"name": "nonce", "type": "uint256"},
                            {"name": "deadline", "type": "uint256"},
                            {"name": "calls", "type": "Call[]"}],
                  "Call": [{"name": "target", "type": "address"},
                           {"name": "value", "type": "uint256"},
                           {"name": "data", "type": "bytes"}]},
        "primaryType": "Batch",
        "message": {"wallet": wallet, "nonce": _uint(body.get("nonce"), "nonce"),
                    "deadline": deadline, "calls": calls}}
    signature = _hex(body.get("signature"), "signature")
    if _recover(encode_typed_data(full_message=typed), signature) != signer:
        raise Rejected("invalid signature")
    return wallet, [(c["target"], c["data"]) for c in calls]
