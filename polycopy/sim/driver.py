"""The scenario driver: plays the source wallet's fills, other wallets' noise, activity events
and the fault timeline over scenario time, and rolls the 15-minute series forward.

Every source transaction gets counterparties: a taker fill of the source is matched by a
maker row of another wallet (the complement: BUY of the other outcome at 1-p, or a SELL of
the same token), a maker fill by another wallet's taker row. Source fills do not touch the
venue's books. With a Polygon node, each source transaction is also settled on it (pending, then
mined); a settlement that reverts or is dropped is never listed by RTDS or the Data API.
"""
from __future__ import annotations

import asyncio
import logging
import random
from decimal import Decimal
from typing import TYPE_CHECKING

from polycopy.sim import chain_faults, faults
from polycopy.sim.feed import Clock, Feed
from polycopy.sim.markets import Catalog, MarketInfo
from polycopy.sim.plan import PlannedFill, plan_once
from polycopy.sim.scenario import Scenario
from polycopy.sim.wire import Fill, Profile

if TYPE_CHECKING:
    from polycopy.sim.polygon import Polygon, PolygonFaults

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
_ADJ = ["Rowdy", "Frigid", "Amber", "Quiet", "Bold", "Lucky", "Misty", "Brisk"]
_NOUN = ["Tenement", "Ostrich", "Harbor", "Lantern", "Comet", "Falcon", "Meadow", "Anchor"]


class Driver:
    def __init__(self, scenario: Scenario, clock: Clock, catalog: Catalog, feed: Feed,
                 venue_faults, loop: asyncio.AbstractEventLoop, polygon: "Polygon | None" = None):
        self.scenario, self.clock, self.catalog, self.feed = scenario, clock, catalog, feed
        self.venue_faults, self.loop, self.polygon = venue_faults, loop, polygon
        self.failed: list[str] = []  # source transactions whose settlement reverted or was dropped
        self.rng = random.Random(scenario.seed)
        src = scenario.source
        self.source = Profile(src.wallet.lower(), src.name, src.pseudonym, src.bio,
                              src.profile_image)
        self.others = [Profile("0x%040x" % self.rng.getrandbits(160), f"trader{i}",
                               f"{self.rng.choice(_ADJ)}-{self.rng.choice(_NOUN)}")
                       for i in range(40)]
        self.errors: list[str] = []
        self.chain_faults = None  # set by the server: relayer_* / chain_* timeline kinds

    def tasks(self) -> list:
        return [self._fills(), self._noise(), self._roll(), self._timeline()]

    async def _sleep_until(self, t: float) -> None:
        delay = t - self.clock.t()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _fills(self) -> None:
        loop_s, k = self.scenario.loop_s, 0
        while True:
            for t, fills in plan_once(self.scenario, self.rng, k * (loop_s or 0)):
                await self._sleep_until(t)
                try:
                    self.emit(t, fills)
                except KeyError as exc:  # a scenario naming a market or outcome we lack
                    self.errors.append(str(exc))
                    log.warning("polysim: skipping source fill at %.3fs: %s", t, exc)
            if not loop_s:
                return
            k += 1
            await self._sleep_until(k * loop_s)

    def emit(self, t: float, planned: list[PlannedFill], tx_hash: str | None = None) -> list:
        """Publish one source transaction at scenario time t; return its records."""
        unix = self.clock.unix(t)
        tx_hash = tx_hash or "0x%064x" % self.rng.getrandbits(256)
        rows: list[Fill] = []
        for p in planned:
            info, token = (self.catalog.by_token[p.token], p.token) if p.token else \
                self.catalog.token(p.market, p.outcome, unix)
            rows += self._with_counterparty(info, token, p, tx_hash, unix, t)
        rows.sort(key=lambda f: f.role != "taker")  # the taker row leads
        if self.polygon is not None:  # counterparties included: they are the other orders of the match
            attempts = self.polygon.on_transaction(rows)
            if any(a.hash == tx_hash.lower() and a.outcome != "mined" for a in attempts):
                self.failed.append(tx_hash)
                return []
        before = len(self.feed.records)
        self.feed.publish(rows)
        return self.feed.records[before:]

    def _with_counterparty(self, info: MarketInfo, token: str, p: PlannedFill, tx_hash: str,
                           unix: float, t: float) -> list[Fill]:
        mono, ts = self.clock.mono_ns(t), int(unix)
        other = self.rng.choice(self.others)
        fills = []
        for _ in range(p.repeat):
            fills.append(Fill(self.source, info, token, p.side, p.price, p.size, p.role,
                              tx_hash, ts, mono, is_source=True))
            if p.role == "maker":
                fills.append(Fill(other, info, token, "SELL" if p.side == "BUY" else "BUY",
                                  p.price, p.size, "taker", tx_hash, ts, mono))
            else:
                fills.append(self._maker_for(other, info, token, p.side, p.price, p.size,
                                             tx_hash, ts, mono))
        return fills

    def _maker_for(self, who, info, token, side, price, size, tx_hash, ts, mono) -> Fill:
        tokens = info.market.tokens
        if len(tokens) == 2 and self.rng.random() < 0.5:  # complementary match
            return Fill(who, info, tokens[1 - tokens.index(token)], side, 1 - price, size,
                        "maker", tx_hash, ts, mono)
        return Fill(who, info, token, "SELL" if side == "BUY" else "BUY", price, size,
                    "maker", tx_hash, ts, mono)

    async def _noise(self) -> None:
        rate = self.scenario.feeds.noise_per_s
        while rate > 0:
            await asyncio.sleep(self.rng.expovariate(rate))
            live = [i for i in self.catalog.by_slug.values()
                    if not i.market.closed and i.market.end_ts > self.clock.unix(self.clock.t())]
            if not live:
                continue
            info = self.rng.choice(live)
            i = self.rng.randrange(len(info.market.tokens))
            price = max(CENT, min(1 - CENT, (info.mids[i] + Decimal(self.rng.randint(-3, 3))
                                            * CENT)))
            size = Decimal(self.rng.randint(100, 5000)) / 100
            taker, maker = self.rng.sample(self.others, 2)
            t = self.clock.t()
            mono, ts, tx = self.clock.mono_ns(t), int(self.clock.unix(t)), \
                "0x%064x" % self.rng.getrandbits(256)
            side = self.rng.choice(("BUY", "SELL"))
            self.feed.publish([
                Fill(taker, info, info.market.tokens[i], side, price, size, "taker", tx, ts, mono),
                self._maker_for(maker, info, info.market.tokens[i], side, price, size, tx, ts,
                                mono)])

    async def _roll(self) -> None:
        while True:
            self.catalog.ensure_windows(self.clock.unix(self.clock.t()))
            window = self.catalog.shortest_window_s()
            to_boundary = window - self.clock.unix(self.clock.t()) % window
            await asyncio.sleep(min(5.0, to_boundary + 0.01))

    async def _timeline(self) -> None:
        events = sorted([(f.at_s, 0, f) for f in self.scenario.faults]
                        + [(a.at_s, 1, a) for a in self.scenario.activity],
                        key=lambda e: e[:2])
        for at_s, is_activity, spec in events:
            await self._sleep_until(at_s)
            if is_activity:
                self._activity(spec, at_s)
            elif self.chain_faults is not None and chain_faults.apply(spec, self.chain_faults):
                pass
            elif not (self.polygon and apply_polygon_fault(spec, self.polygon.faults, self.loop)):
                faults.apply(spec, self.feed.faults, self.venue_faults, self.loop)

    def _activity(self, spec, t: float) -> None:
        unix = self.clock.unix(t)
        info = self.catalog.resolve(spec.market, unix)
        m = info.market
        row = {"proxyWallet": self.source.wallet, "timestamp": int(unix),
               "conditionId": m.condition_id, "type": spec.type, "size": spec.size,
               "usdcSize": spec.size if spec.type != "REDEEM" else spec.size * info.mids[0],
               "transactionHash": "0x%064x" % self.rng.getrandbits(256), "price": 0,
               "asset": "", "side": "", "outcomeIndex": 999, "title": m.question,
               "slug": m.slug, "icon": info.icon, "eventSlug": m.event_slug, "outcome": "",
               "name": self.source.name, "pseudonym": self.source.pseudonym,
               "bio": self.source.bio, "profileImage": self.source.image,
               "profileImageOptimized": self.source.image}
        self.feed.add_activity(self.source.wallet, row, self.clock.mono_ns(t))


def apply_polygon_fault(spec, knobs: "PolygonFaults", loop: asyncio.AbstractEventLoop) -> bool:
    """A `polygon_*` fault kind sets the Polygon knob of the same name (back after `for_s`)."""
    if not spec.kind.startswith("polygon_"):
        return False
    name = spec.kind.removeprefix("polygon_")
    before = getattr(knobs, name)
    setattr(knobs, name, int(spec.value or 0) if name.endswith("_ms") else float(spec.value or 0))
    if spec.for_s:
        loop.call_later(spec.for_s, setattr, knobs, name, before)
    return True
