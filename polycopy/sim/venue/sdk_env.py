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
                     relayer_url: str = DEAD_URL, rpc_url: str = DEAD_URL,
                     poll_ms: int | None = None, chain_id: int = 137,
                     name: str = "polysim") -> Environment:
    """An SDK Environment whose CLOB REST/WS (and optionally Gamma, Data, RTDS, relayer and
    Polygon JSON-RPC) are local.

    `ws_url` is the base of the CLOB websocket app (e.g. "ws://127.0.0.1:8081"); the
    market and user channels are `{ws_url}/ws/market` and `{ws_url}/ws/user`. What is not
    given points at a dead loopback port so nothing ever leaves the machine. `poll_ms` sets
    how often a transaction handle's `wait()` polls the relayer or the node (SDK: 2000).
    A non-production `rpc_url` also makes the SDK date deposit-wallet batches by the node's
    clock (VENUE-2026-12.md §2.4).
    """
    base = ws_url.rstrip("/")
    extra = {"relayer_poll_frequency_ms": poll_ms} if poll_ms else {}
    config = dataclasses.replace(
        PRODUCTION_CONFIG,
        chain_id=chain_id,
        clob_url=clob_url.rstrip("/"),
        clob_market_ws_url=f"{base}/ws/market",
        clob_user_ws_url=f"{base}/ws/user",
        gamma_url=gamma_url,
        data_url=data_url,
        rtds_ws_url=rtds_ws_url,
        relayer_url=relayer_url,
        rpc_url=rpc_url,
        rfq_url=DEAD_URL,
        sports_ws_url=DEAD_URL,
        **extra,
    )
    return create_environment(name=name, config=config)


def polysim_environment(endpoints: dict[str, str], poll_ms: int | None = 100) -> Environment:
    """Every service the SDK talks to at a running polysim (its endpoints file)."""
    ws_base = endpoints["clob_ws_market"].rsplit("/ws/", 1)[0]
    return make_environment(endpoints["clob"], ws_base, gamma_url=endpoints["gamma"],
                            data_url=endpoints["data_api"], rtds_ws_url=endpoints["rtds"],
                            relayer_url=endpoints.get("relayer", DEAD_URL),
                            rpc_url=endpoints.get("polygon_rpc", DEAD_URL), poll_ms=poll_ms)
