"""Market resolution: a market stops trading at its end and resolves `resolution.delay_s` later.

The winner is the scenario's (`resolution.winners`, keyed by slug or series asset), else drawn
from a generator seeded with the scenario seed and the slug, so a run is repeatable. Resolving
sets `payouts` (1 for the winner, 0 for the others), `closed`, stops the CLOB (resting orders
are canceled) and calls the listeners. Gamma then shows `closed`, `outcomePrices` "1"/"0" and
the resolution status; the Data API shows positions REDEEMABLE and answers `/v2/resolutions`;
the chain (chain.py) pays redemptions. `resolve()` also serves the control API's
`POST /resolve` (a test need not wait for a market's end).
"""
from __future__ import annotations

import asyncio
import random
from decimal import Decimal

from polycopy.sim.venue.lifecycle import cancel

MICRO = 1_000_000


def question_id(condition_id: str) -> str:
    return "0x" + condition_id[2:][::-1]


class Resolver:
    def __init__(self, spec, seed: int, venue, clock, loop: asyncio.AbstractEventLoop):
        self.spec, self.seed, self.venue, self.clock, self.loop = spec, seed, venue, clock, loop
        self.delay_s = spec.delay_s
        self.listeners: list = []  # called with each resolved MarketInfo
        self.resolved: list[str] = []  # condition ids, in order

    def now(self) -> float:
        return self.clock.unix(self.clock.t())

    def schedule(self, info) -> None:
        """Stop trading at the market's end; resolve `delay_s` after it."""
        m, now = info.market, self.now()
        self.loop.call_later(max(0.0, m.end_ts - now), self._end, info)
        due = now if m.closed else m.end_ts + self.delay_s
        self.loop.call_later(max(0.0, due - now), self.resolve, info)

    def _end(self, info) -> None:
        info.market.accepting_orders = False

    def winner_of(self, info) -> int:
        m = info.market
        named = self.spec.winners.get(m.slug) or self.spec.winners.get(m.slug.split("-")[0])
        if named in m.outcomes:
            return m.outcomes.index(named)
        return random.Random(f"{self.seed}:{m.slug}").randrange(len(m.outcomes))

    def resolve(self, info, winner: str | None = None) -> bool:
        """Resolve now (once); False when it already was."""
        m = info.market
        if m.resolved:
            return False
        index = m.outcomes.index(winner) if winner is not None else self.winner_of(info)
        m.payouts = tuple(Decimal(int(i == index)) for i in range(len(m.outcomes)))
        m.resolved_ts = int(self.now())
        m.closed, m.accepting_orders = True, False
        info.mids = list(m.payouts)
        self._cancel_resting(m)
        self.resolved.append(m.condition_id)
        for listener in self.listeners:
            listener(info)
        return True

    def _cancel_resting(self, m) -> None:
        live = [o for o in self.venue.orders.values()
                if o.market is m and o.status == "LIVE"]
        for key in {o.key for o in live}:
            cancel(self.venue, key, [o.id for o in live if o.key == key])


def resolution_rows(catalog, by: str, wanted: set[str]) -> list[dict]:
    """`/v2/resolutions` rows (`models/data/resolutions.py`): payouts in micro-USDC per share."""
    rows = []
    for info in list(catalog.by_slug.values()):
        m = info.market
        key = {"condition": m.condition_id, "question_id": question_id(m.condition_id),
               "event_id": info.event_id}[by]
        if key not in wanted:
            continue
        status = "resolved" if m.resolved else "active" if m.closed or not m.accepting_orders \
            else "initialized"
        rows.append({
            "question_id": question_id(m.condition_id), "condition_id": m.condition_id,
            "status": status, "extended_review": False, "expected_settlement_time": m.end_ts,
            "was_disputed": False, "new_version_q": False,
            "last_update_timestamp": m.resolved_ts or m.start_ts,
            "market_type": "BINARY", "resolution_source": "reported" if m.resolved else None,
            "reporter": "CHAINLINK" if m.resolved else None,
            "payouts": [int(p * MICRO) for p in m.payouts] if m.resolved else None,
            "resolved_at": m.resolved_ts, "transaction_hash": None, "log_index": None})
    return rows
