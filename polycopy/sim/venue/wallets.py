"""Which smart wallets an EOA controls: the CREATE2 addresses the exchange checks.

Uses the SDK's (private) derivation code with its production factory constants, so a
proxy (type 1), Safe (type 2) or deposit wallet (type 3) maker verifies exactly when it is
the wallet derived from the signing EOA, as on chain.
"""
from __future__ import annotations

from functools import lru_cache

from polymarket._internal.environment import PRODUCTION_CONFIG
from polymarket._internal.wallet import (
    derive_beacon_deposit_wallet_address,
    derive_proxy_wallet_address,
    derive_safe_wallet_address,
    derive_uups_deposit_wallet_address,
)

_CONFIG = PRODUCTION_CONFIG.wallet_derivation


@lru_cache(maxsize=1024)
def wallets_of(eoa: str, signature_type: int) -> frozenset[str]:
    """Lower-cased maker addresses `eoa` may sign for with `signature_type`."""
    if signature_type == 0:
        found = [eoa]
    elif signature_type == 1:
        found = [derive_proxy_wallet_address(eoa, _CONFIG)]
    elif signature_type == 2:
        found = [derive_safe_wallet_address(eoa, _CONFIG)]
    else:
        found = [derive_beacon_deposit_wallet_address(eoa, _CONFIG),
                 derive_uups_deposit_wallet_address(eoa, _CONFIG)]
    return frozenset(a.lower() for a in found)
