"""Expand a scenario's explicit fills and bursts into source transactions over time.

A burst is `clusters` groups of fills separated by `gap_ms`; a cluster's fills go out in
transactions of one to three fills a few ms apart. Everything random comes from the
scenario's seeded `random.Random`, so a scenario plays the same way every time.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from polycopy.sim.scenario import BurstSpec, Scenario

CENT = Decimal("0.01")
SHARE_Q = Decimal("0.0001")


@dataclass(frozen=True)
class PlannedFill:
    market: str  # a catalog reference (slug or series asset), or "" when token is given
    outcome: str
    side: str
    price: Decimal
    size: Decimal
    role: str = "taker"
    repeat: int = 1  # identical fills in the same transaction
    token: str | None = None


def _uniform(rng: random.Random, low: Decimal, high: Decimal, q: Decimal) -> Decimal:
    return (low + (high - low) * Decimal(str(rng.random()))).quantize(q)


def _burst(spec: BurstSpec, rng: random.Random, offset: float) -> list[tuple[float, list]]:
    txs, t = [], offset + spec.at_s
    for _ in range(spec.clusters):
        n = rng.randint(*spec.fills_per_cluster)
        tx_t = t
        while n > 0:
            k = min(n, rng.randint(1, 3))
            n -= k
            fills = [PlannedFill(
                spec.market, spec.outcome, spec.side,
                max(CENT, _uniform(rng, spec.price[0], spec.price[1], CENT)),
                max(SHARE_Q, _uniform(rng, spec.size[0], spec.size[1], SHARE_Q)),
                "maker" if rng.random() < spec.maker_share else "taker",
                2 if rng.random() < spec.identical_share else 1) for _ in range(k)]
            txs.append((round(tx_t, 6), fills))
            tx_t += rng.randint(5, 60) / 1000
        t += rng.randint(*spec.gap_ms) / 1000
    return txs


def plan_once(scenario: Scenario, rng: random.Random, offset: float = 0.0):
    """[(t, [PlannedFill, ...]), ...] sorted by t: one entry per source transaction."""
    by_tx: dict[str, tuple[float, list]] = {}
    txs = []
    for f in scenario.fills:
        planned = PlannedFill(f.market, f.outcome, f.side, f.price, f.size, f.role, f.repeat)
        if f.tx is None:
            txs.append((offset + f.at_s, [planned]))
        elif f.tx in by_tx:
            by_tx[f.tx][1].append(planned)
        else:
            by_tx[f.tx] = (offset + f.at_s, [planned])
            txs.append(by_tx[f.tx])
    for burst in scenario.bursts:
        txs += _burst(burst, rng, offset)
    txs.sort(key=lambda tx: tx[0])
    return txs
