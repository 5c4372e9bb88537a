"""The one module that imports the official SDK (`polymarket-client`, pinned exactly in
setup.cfg). Order signing and auth (venue/clob.py) and redemption (venue/redeem.py) take what
they use from here, so an SDK upgrade is checked against this list of names alone; many are
private to the SDK (`_internal`): tests/unit/test_clob_signing.py (the signed vectors) and the
redemption tests against polysim fail if
one moves or changes.
"""
from polymarket import ApiKeyCreds, BuilderApiKey, RelayerApiKey, SecureClient
from polymarket._internal.actions.orders.orders import create_signed_order
from polymarket._internal.actions.orders.post import build_post_order_request
from polymarket._internal.actions.orders.types import BYTES32_ZERO, UnsignedOrder
from polymarket._internal.actions.orders.typed_data import build_order_signature, build_order_typed_data
from polymarket._internal.actions.relayer.calls import (decode_erc1155_balance_of_batch_result,
                                                         erc1155_balance_of_batch_call)
from polymarket._internal.actions.relayer.nonce import fetch_execute_params_sync, fetch_relay_payload_sync
from polymarket._internal.actions.relayer.poll import fetch_gasless_transaction_sync
from polymarket._internal.environment import PRODUCTION_CONFIG, create_environment
from polymarket._internal.hmac import build_hmac_signature
from polymarket._internal.l1_auth import sign_api_key_auth
from polymarket._internal.protocol import is_v2_position_id
from polymarket._internal.wallet import (classify_account, derive_beacon_deposit_wallet_address,
                                         derive_proxy_wallet_address, derive_safe_wallet_address,
                                         wrap_deposit_wallet_signature)
from polymarket.errors import (PolymarketError, RateLimitError, RequestRejectedError, TransactionFailedError,
                               TransportError, UserInputError)
from polymarket.errors import TimeoutError as SdkTimeout
from polymarket.models.clob.relayer import RelayerTransactionState, RelayerTransactionType

__all__ = [
    "ApiKeyCreds", "BuilderApiKey", "RelayerApiKey", "SecureClient", "create_signed_order", "build_post_order_request",
    "BYTES32_ZERO", "UnsignedOrder", "build_order_signature", "build_order_typed_data",
    "decode_erc1155_balance_of_batch_result", "erc1155_balance_of_batch_call", "fetch_execute_params_sync",
    "fetch_relay_payload_sync", "fetch_gasless_transaction_sync", "PRODUCTION_CONFIG", "create_environment",
    "build_hmac_signature", "sign_api_key_auth", "is_v2_position_id", "classify_account",
    "derive_beacon_deposit_wallet_address", "derive_proxy_wallet_address", "derive_safe_wallet_address",
    "wrap_deposit_wallet_signature", "PolymarketError", "RateLimitError", "RequestRejectedError",
    "TransactionFailedError", "TransportError", "UserInputError", "SdkTimeout", "RelayerTransactionState",
    "RelayerTransactionType",
]
