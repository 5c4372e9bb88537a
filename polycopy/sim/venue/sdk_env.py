"""Point the official SDK (`polymarket-client` 0.14.0) at a local venue.

The SDK has no public option for custom hosts; its environment object comes from the
private `polymarket._internal.environment.create_environment` (CLOB-V2.md Addendum).
This is the one place that relies on it; `tests/sim/venue/test_sdk.py` pins that it works.
"""
from __future__ import annotations

import dataclasses

from polymarket._internal.environment import PRODUCTION_CONFIG, create_environment
from polymarket.environments import Environment

DEAD_URL = "http://127.0.0.1:9"  # discard port: anything we do not simulate fails fast


def make_environment(clob_url: str, ws_url: str, *, gamma_url: str = DEAD_URL,
                     data_url: str = DEAD_URL, rtds_ws_url: str = DEAD_URL,
                     chain_id: int = 137, name: str = "polysim") -> Environment:
    """An SDK Environment whose CLOB REST/WS (and optionally Gamma, Data, RTDS) are local.

    `ws_url` is the base of the CLOB websocket app (e.g. "ws://127.0.0.1:8081"); the
    market and user channels are `{ws_url}/ws/market` and `{ws_url}/ws/user`. Relayer
    and RPC point at a dead loopback port so nothing ever leaves the machine.
    """
    base = ws_url.rstrip("/")
    config = dataclasses.replace(
        PRODUCTION_CONFIG,
        chain_id=chain_id,
        clob_url=clob_url.rstrip("/"),
        clob_market_ws_url=f"{base}/ws/market",
        clob_user_ws_url=f"{base}/ws/user",
        gamma_url=gamma_url,
        data_url=data_url,
        rtds_ws_url=rtds_ws_url,
        relayer_url=DEAD_URL,
        rpc_url=DEAD_URL,
        rfq_url=DEAD_URL,
        sports_ws_url=DEAD_URL,
    )
    return create_environment(name=name, config=config)
