"""Polysim: every polysim service on 127.0.0.1, in its own thread and asyncio loop.

    with Polysim(scenario) as sim:
        sim.endpoints["rtds"]  # ws://127.0.0.1:P

Ports are ephemeral unless `port_base` is given (then clob, clob_ws, rtds, data_api, gamma,
control, polygon, relayer take port_base .. port_base+7). "polygon" is a Polygon node's
JSON-RPC websocket (sim/polygon.py) where every source transaction is settled; the same port
answers JSON-RPC over HTTP ("polygon_rpc": the EOA's redeem path, eoa_rpc.py). "relayer" is the
gasless-transaction relayer (relayer.py). Both run their calls on one chain (chain.py) over the
venue's balances. `stop()` closes every socket, cancels every task and joins the thread.
"""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from aiohttp import web

from polycopy.sim import scenario as scenario_mod
from polycopy.sim.chain import Chain
from polycopy.sim.chain_faults import ChainFaults
from polycopy.sim.control import Control
from polycopy.sim.data_api import DataApi
from polycopy.sim.driver import Driver
from polycopy.sim.eoa_rpc import EoaRpc
from polycopy.sim.feed import Clock, Feed
from polycopy.sim.gamma import Gamma
from polycopy.sim.markets import Catalog, MarketInfo
from polycopy.sim.model import FeedFaults, Legacy, VenueFaults
from polycopy.sim.polygon import Polygon, PolygonFaults
from polycopy.sim.relayer import Relayer
from polycopy.sim.relayer_auth import RelayerKeys
from polycopy.sim.replay import Replay
from polycopy.sim.resolution import Resolver
from polycopy.sim.rtds import Rtds
from polycopy.sim.scenario import Scenario
from polycopy.sim.venue import Venue, build_clob_app, build_clob_ws_app

HOST = "127.0.0.1"
SERVICES = ("clob", "clob_ws", "rtds", "data_api", "gamma", "control", "polygon", "relayer")


def initial_feed_faults(sc: Scenario) -> FeedFaults:
    lags = dict(sc.feeds.rtds_lag_ms)
    return FeedFaults(data_api_lag_ms=sc.feeds.data_api_lag_ms,
                      rtds_lag_ms=min(lags.values(), default=0),
                      rtds_duplicate=sc.feeds.duplicate_by_type(),
                      rtds_malformed_share=sc.feeds.rtds_malformed_share,
                      rtds_malformed_kinds=list(sc.feeds.rtds_malformed_kinds),
                      data_api_hostile=list(sc.feeds.data_api_hostile),
                      extra={"rtds_lag_ms_by_type": lags})


def initial_venue_faults(sc: Scenario) -> VenueFaults:
    return VenueFaults(region=sc.geoblock.api)


def relayer_keys(sc: Scenario) -> RelayerKeys:
    keys = RelayerKeys()
    for k in sc.relayer.api_keys:
        keys.add_relayer_key(k.key, k.address)
    for b in sc.relayer.builder_keys:
        keys.add_builder_key(b.key, b.secret, b.passphrase)
    return keys


def initial_polygon_faults(sc: Scenario) -> PolygonFaults:
    return PolygonFaults(**sc.polygon.model_dump())


class Polysim:
    def __init__(self, scenario: Scenario | str | Path | None = None,
                 port_base: int | None = None):
        if not isinstance(scenario, Scenario):
            scenario = scenario_mod.load(scenario)
        self.scenario = scenario
        self.port_base = port_base
        self.endpoints: dict[str, str] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    # -- lifecycle (caller's thread) --------------------------------------------------------
    def start(self, timeout_s: float = 15.0) -> dict[str, str]:
        self._thread = threading.Thread(target=self._run, name="polysim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError("polysim did not start in time")
        if self._error:
            self._thread.join()
            raise RuntimeError(f"polysim failed to start: {self._error}") from self._error
        return self.endpoints

    def stop(self) -> None:
        if self._thread is None:
            return
        if self.loop is not None and self._stop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self._thread = None

    def __enter__(self) -> "Polysim":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def call(self, fn, *args, timeout_s: float = 10.0):
        """Run `fn(*args)` on the sim's loop thread and return its result."""
        async def run():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout_s)

    # -- the loop thread --------------------------------------------------------------------
    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
        finally:
            self._ready.set()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    def _build(self) -> None:
        sc = self.scenario
        self.clock = Clock.now()
        self.feed_faults = initial_feed_faults(sc)
        self.feed = Feed(self.feed_faults, sc.source.wallet, sc.feeds.odd_outcome_index_share,
                         sc.seed)
        self.feed.loop = self.loop
        self.venue = Venue(chain_id=137)
        self.venue.faults = initial_venue_faults(sc)
        self.legacy = Legacy(**sc.legacy.model_dump())
        self.resolver = Resolver(sc.resolution, sc.seed, self.venue, self.clock, self.loop)
        self.catalog = Catalog(sc, self.clock.start_unix)
        for info in list(self.catalog.by_slug.values()):
            self._add_market(info)
        self.catalog.on_add = self._add_market
        self.catalog.ensure_windows(self.clock.unix(0))
        for account in sc.accounts:
            self.venue.fund(account.address, account.pusd, dict(account.positions))
        self.rtds = Rtds(self.feed_faults, sc.feeds.rtds_idle_timeout_s,
                         sc.feeds.rtds_empty_first_frame)
        self.feed.rtds = self.rtds
        self.polygon = Polygon(initial_polygon_faults(sc), seed=sc.seed)
        self.chain = Chain(self.venue, self.catalog, self.feed, self.clock)
        self.chain_faults = ChainFaults(step_ms=sc.relayer.step_ms)
        self.relayer = Relayer(self.chain, self.chain_faults, relayer_keys(sc))
        self.polygon.rpc = EoaRpc(self.chain, self.polygon, self.chain_faults)
        self.driver = Driver(sc, self.clock, self.catalog, self.feed, self.venue.faults,
                             self.loop, self.polygon)
        self.driver.chain_faults = self.chain_faults
        self.data_api = DataApi(self.feed, self.catalog, self.venue, self.clock,
                                sc.feeds.data_api_cache_s, self.legacy)
        self.replay = Replay(sc.replay, self.feed, self.rtds, self.clock, sc.replay_delay_s,
                             self.catalog, self.venue, sc.replay_shift) if sc.replay else None

    def _add_market(self, info: MarketInfo) -> None:
        self.venue.add_market(info.market)
        self.resolver.schedule(info)
        for token, bids, asks in self.catalog.books_for(info, self.scenario.books):
            self.venue.set_book(token, bids=bids, asks=asks)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._build()
        apps = {"clob": build_clob_app(self.venue), "clob_ws": build_clob_ws_app(self.venue),
                "rtds": self.rtds.app(),
                "data_api": self.data_api.app(),
                "gamma": Gamma(self.catalog, self.clock, self.legacy).app(),
                "control": Control(self).app(),
                "polygon": self.polygon.app(), "relayer": self.relayer.app()}
        runners = []
        tasks: list[asyncio.Task] = []
        try:
            ports = {}
            for i, name in enumerate(SERVICES):
                runner = web.AppRunner(apps[name], access_log=None, shutdown_timeout=1.0)
                await runner.setup()
                runners.append(runner)
                site = web.TCPSite(runner, HOST, self.port_base + i if self.port_base else 0)
                await site.start()
                ports[name] = runner.addresses[0][1]
            self.endpoints = endpoints(ports)
            coros = self.driver.tasks() + [self.rtds.watch_drops()]
            if self.replay:
                coros.append(self.replay.run())
            tasks = [asyncio.create_task(c) for c in coros]
            self._ready.set()
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for runner in reversed(runners):
                await runner.cleanup()
            leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)

    # -- used by the control API (loop thread) ---------------------------------------------
    def reset(self) -> None:
        self.feed.reset()
        self.data_api.cache.clear()
        self.venue.records.clear()
        fresh = initial_feed_faults(self.scenario)
        for name, value in vars(fresh).items():
            setattr(self.feed_faults, name, value)
        for name, value in vars(initial_venue_faults(self.scenario)).items():
            setattr(self.venue.faults, name, value)
        for name, value in vars(Legacy(**self.scenario.legacy.model_dump())).items():
            setattr(self.legacy, name, value)
        for name, value in vars(initial_polygon_faults(self.scenario)).items():
            setattr(self.polygon.faults, name, value)
        for name, value in vars(ChainFaults(step_ms=self.scenario.relayer.step_ms)).items():
            setattr(self.chain_faults, name, value)


def endpoints(ports: dict[str, int]) -> dict[str, str]:
    http = lambda name: f"http://{HOST}:{ports[name]}"  # noqa: E731
    return {"clob": http("clob"), "rtds": f"ws://{HOST}:{ports['rtds']}",
            "data_api": http("data_api"), "gamma": http("gamma"),
            "clob_ws_market": f"ws://{HOST}:{ports['clob_ws']}/ws/market",
            "clob_ws_user": f"ws://{HOST}:{ports['clob_ws']}/ws/user",
            "control": http("control"), "polygon": f"ws://{HOST}:{ports['polygon']}/",
            "polygon_rpc": http("polygon") + "/", "relayer": http("relayer"),
            "geoblock": http("control") + "/api/geoblock"}
