"""Fault knobs of the relayer (relayer.py) and of the chain behind the Polygon JSON-RPC
(eoa_rpc.py). Each is a window: what is sent while it is open gets the fault. Scenario
timeline and `POST /faults` kinds (`for_s`, default 5 s):

relayer_429          every relayer call but /deployed: 429 with Retry-After (`value` s, default 1)
relayer_503          every relayer call but /deployed: 503
relayer_wallet_busy  POST /submit: 400 "wallet busy: wallet has an active action" (the SDK retries)
relayer_tx_fails     submitted transactions end STATE_FAILED ("execution reverted"), nothing moves
relayer_tx_pending   submitted transactions execute but stay STATE_MINED for good
chain_tx_reverts     EOA transactions are mined with status 0x0, nothing moves
chain_tx_pending     EOA transactions are never mined (no receipt; the nonce stays taken)
"""
from __future__ import annotations

import time
from dataclasses import dataclass

KINDS = {"relayer_429": "relayer_429_until", "relayer_503": "relayer_503_until",
         "relayer_wallet_busy": "wallet_busy_until", "relayer_tx_fails": "tx_fails_until",
         "relayer_tx_pending": "tx_pending_until", "chain_tx_reverts": "eoa_reverts_until",
         "chain_tx_pending": "eoa_pending_until"}


@dataclass
class ChainFaults:
    relayer_429_until: float = 0.0  # monotonic deadlines
    relayer_503_until: float = 0.0
    wallet_busy_until: float = 0.0
    tx_fails_until: float = 0.0
    tx_pending_until: float = 0.0
    eoa_reverts_until: float = 0.0
    eoa_pending_until: float = 0.0
    retry_after_s: int = 1
    step_ms: int = 100  # relayer STATE_NEW -> EXECUTED -> MINED -> CONFIRMED, EOA tx -> mined

    def on(self, name: str) -> bool:
        return time.monotonic() < getattr(self, name)


def apply(spec, faults: ChainFaults) -> bool:
    """Apply a relayer_* / chain_* FaultSpec; False for any other kind."""
    name = KINDS.get(spec.kind)
    if name is None:
        return False
    setattr(faults, name, time.monotonic() + (spec.for_s or 5.0))
    if spec.kind == "relayer_429" and spec.value:
        faults.retry_after_s = int(spec.value)
    return True


def snapshot(faults: ChainFaults) -> dict:
    now = time.monotonic()
    return {k: (max(0.0, round(v - now, 3)) if k.endswith("_until") else v)
            for k, v in vars(faults).items()}
