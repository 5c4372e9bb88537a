"""Intake's routing: new fills go per token, as one FillBatch carrying the token's `Market`, to the
token's coalescer. No actor; Intake owns one Router and gives it its send and its peers.

A token's fills wait in a buffer (status "buffered" on disk) while its coalescer does not exist
yet or its market is not resolved yet: the supervisor is asked for the coalescer
(EnsureCoalescer, repeated every ENSURE_EVERY_S) and the catalog for the market (NeedMarketFacts).
A token's first buffer waits for its market at most `copy.market_facts_wait_ms`; then its fills
go on without one, and risk refuses them with `market_unknown` (recorded with the other
verdicts): nothing can be priced or signed without the market's tick and exchange, and a fill
must not wait forever for a lookup that may never answer.
"""
from __future__ import annotations

import time

from loguru import logger

from polycopy.messages import EnsureCoalescer, FillBatch, Market, NeedMarketFacts
from polycopy.store import fills as store

ENSURE_EVERY_S = 2.0


class Router:
    def __init__(self, actor, wait_s: float, clock=time.monotonic):
        self.actor = actor  # send(), peers, parent, db
        self.wait_s = wait_s
        self.clock = clock
        self.markets: dict[str, Market] = {}  # token -> its market, as the catalog resolved it
        self.buffers: dict[str, list] = {}  # token -> fills waiting for the coalescer or the market
        self.hold_until: dict[str, float] = {}  # token -> when its buffer stops waiting for the market
        self.asked: dict[str, float] = {}  # token -> when EnsureCoalescer was last sent
        self.end_unknown: set[str] = set()  # tokens whose coalescer was asked for without a market end
        self.facts_asked: set[str] = set()

    def routable(self, token: str) -> bool:
        return f"coalescer:{token}" in self.actor.peers and token in self.markets and token not in self.buffers

    def route(self, fills: list) -> list[str]:
        """Send or buffer; returns the tokens that now need an ENSURE timer."""
        by_token: dict[str, list] = {}
        for f in fills:
            by_token.setdefault(f.token_id, []).append(f)
        waiting = []
        for token, group in by_token.items():
            if self.routable(token):
                self._send(token, group)
                continue
            if token not in self.buffers and token not in self.markets:
                self.hold_until[token] = self.clock() + self.wait_s
            self.buffers.setdefault(token, []).extend(group)
            self.ask(token, group[0])
            waiting.append(token)
        return waiting

    def ask(self, token: str, fill) -> None:
        """Ask the supervisor for the coalescer (again, every ENSURE_EVERY_S) and the catalog for the market (once)."""
        a = self.actor
        if self.clock() - self.asked.get(token, -1e9) >= ENSURE_EVERY_S and a.parent is not None:
            end_ts = self.markets[token].end_ts if token in self.markets else 0
            a.send(a.parent, EnsureCoalescer(key=token, condition_id=fill.condition_id, end_ts=end_ts))
            self.asked[token] = self.clock()
            if not end_ts:
                self.end_unknown.add(token)
        if token not in self.markets and token not in self.facts_asked and "catalog" in a.peers:
            self.facts_asked.add(token)
            a.send(a.peers["catalog"], NeedMarketFacts(key=token, condition_id=fill.condition_id, slug=fill.slug))

    def learn(self, market: Market) -> None:
        """The catalog resolved a market (or changed its tick): later batches carry it."""
        a = self.actor
        for token in map(str, market.token_ids):
            self.markets[token] = market
            # A coalescer asked for before its market's end was known learns it now, so the
            # supervisor can retire it after the market ends.
            if market.end_ts and token in self.end_unknown and a.parent is not None:
                self.end_unknown.discard(token)
                a.send(a.parent, EnsureCoalescer(key=token, condition_id=market.condition_id, end_ts=market.end_ts))

    def flush_ready(self) -> None:
        """Route each buffer whose coalescer exists and whose market is known, or whose wait is over."""
        now = self.clock()
        for token in [t for t in self.buffers if f"coalescer:{t}" in self.actor.peers]:
            if token not in self.markets:
                if now < self.hold_until.get(token, 0):
                    continue
                logger.warning("intake: no market for token {} after {:.0f} ms; its fills go on and risk refuses them",
                               token[:16], self.wait_s * 1000)
            self.hold_until.pop(token, None)
            group = self.buffers.pop(token)
            db = self.actor.db
            store.set_status(db, [f.key for f in group if not f.provisional], "routed")  # written before sent
            store.set_status(db, [f.key for f in group if f.provisional], "provisional", only_from="buffered")
            self._send(token, group)
            self.asked.pop(token, None)

    def next_hold_s(self) -> float | None:
        """Seconds until the next buffer stops waiting for its market (None: none waits)."""
        now = self.clock()
        due = [t for t in self.hold_until.values() if t > now]
        return min(due) - now if due else None

    def _send(self, token: str, group: list) -> None:
        a = self.actor
        a.send(a.peers[f"coalescer:{token}"], FillBatch(fills=tuple(group), sent_ns=time.monotonic_ns(),
                                                        market=self.markets.get(token)))
