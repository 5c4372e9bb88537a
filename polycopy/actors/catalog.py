"""MarketCatalog: the facts of every market the source touches, pushed before they are needed.

Thin for now: it answers `NeedMarketFacts` by asking Gamma once per market and pushing
`MarketFacts` to risk, executor and intake. Pre-loading upcoming 15-minute markets and
following tick-size changes are issue #8.
"""
from __future__ import annotations

from datetime import timedelta

import requests

from polycopy.actors.base import ChildActor
from polycopy.errors import TemporaryError
from polycopy.messages import MarketFacts, NeedMarketFacts
from polycopy.venue.gamma import fetch_market_by_token

CONSUMERS = ("risk", "executor", "intake")
RETRY = "retry"


class Catalog(ChildActor):
    role = "catalog"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.facts: dict[str, MarketFacts] = {}  # token id -> facts
        self.session = requests.Session()
        self.pushed_to: dict[str, object] = {}  # consumer role -> address we last pushed to

    def receiveMsg_NeedMarketFacts(self, msg: NeedMarketFacts, sender):
        facts = self.facts.get(msg.key)
        if facts is not None:
            self.send(sender, facts)
            return
        self._lookup(msg.key)

    def _lookup(self, token_id: str) -> None:
        try:
            facts = fetch_market_by_token(self.session, self.config.venue.gamma_url, token_id)
        except TemporaryError as e:
            self.log.warning("market facts for {} not available yet ({}); retrying", token_id[:12], e)
            self.wakeupAfter(timedelta(seconds=e.retry_after_s or 1.0), payload=(RETRY, token_id))
            return
        if facts is None:
            self.log.warning("gamma does not know token {}", token_id[:12])
            return
        self.publish(facts)

    def publish(self, facts: MarketFacts, roles=CONSUMERS) -> None:
        for t in facts.token_ids:
            self.facts[t] = facts
        for role in roles:
            if role in self.peers:
                self.send(self.peers[role], facts)
                self.pushed_to[role] = self.peers[role]

    def on_peers(self) -> None:
        # A restarted consumer (new address) has lost what we pushed: push it everything again.
        moved = [r for r in CONSUMERS if r in self.peers and self.pushed_to.get(r) not in (None, self.peers[r])]
        if moved:
            for facts in {f.condition_id: f for f in self.facts.values()}.values():
                self.publish(facts, moved)

    def on_wakeup(self, payload) -> None:
        if isinstance(payload, tuple) and payload[0] == RETRY and payload[1] not in self.facts:
            self._lookup(payload[1])
