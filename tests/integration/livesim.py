"""The real multiprocess system, live mode, against an in-process polysim: one helper for the
integration tests that count what reached the venue."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from polycopy.actors import system
from polycopy.actors.supervisor import Supervisor
from polycopy.messages import Init, StatusReply, StatusRequest
from polycopy.runner import SIM_TEST_KEY, lane_from_env
from polycopy.sim.server import Polysim
from tests.conftest import make_config
from tests.integration.test_supervision import free_port, wait_for

OURS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # the address of SIM_TEST_KEY


class Live:
    def __init__(self, sim: Polysim, asys, sup, config):
        self.sim, self.asys, self.sup, self.config = sim, asys, sup, config

    def status(self) -> dict:
        reply = self.asys.ask(self.sup, StatusRequest(), 5)
        assert isinstance(reply, StatusReply)
        return reply.status

    def connected(self, feed: str) -> bool:
        return bool(self.status()["telemetry"].get("feeds", {}).get(feed, {}).get("connected"))

    def orders_for(self, token: str) -> list:
        return [o for o in list(self.sim.venue.orders.values()) if o.asset_id == token]

    def posts_for(self, token: str) -> list[dict]:
        return [r for r in list(self.sim.venue.records) if r.get("path") == "/order" and r.get("token_id") == token]


@contextmanager
def live_system(tmp: Path, scenario, *, env: dict | None = None, feeds=("rtds",), polygon: bool = False, **sections):
    """Start the admin first (forked before polysim starts its threads), then polysim, then the
    supervisor with every endpoint pointed at polysim (the Polygon node too with `polygon`);
    yield a `Live` once `feeds` are connected."""
    env = {"POLYCOPY_PRIVATE_KEY": SIM_TEST_KEY, **(env or {})}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    port = free_port()
    asys = system.start_system(port, tmp / "state", lane=lane_from_env())  # as run.py (test_lane_off.py)
    sim = Polysim(scenario)
    try:
        sim.start()
        e = sim.endpoints
        venue = {"clob_url": e["clob"], "rtds_url": e["rtds"], "data_api_url": e["data_api"], "gamma_url": e["gamma"],
                 "clob_ws_market_url": e["clob_ws_market"], "clob_ws_user_url": e["clob_ws_user"],
                 "relayer_url": e["relayer"], "polygon_rpc_url": e["polygon_rpc"],
                 **({"polygon_ws_url": e["polygon"]} if polygon else {}), **sections.pop("venue", {})}
        execution = {"mode": "live", "heartbeats": False, **sections.pop("execution", {})}
        actors = {"admin_port": port, **sections.pop("actors", {})}
        cfg = make_config(tmp, execution=execution, actors=actors, venue=venue, **sections)
        sup = asys.createActor(Supervisor, globalName=system.SUPERVISOR_NAME)
        asys.tell(sup, Init(config=cfg))
        live = Live(sim, asys, sup, cfg)
        wait_for(lambda: all(live.connected(f) for f in feeds), timeout_s=60, what=f"the {', '.join(feeds)} feed(s)")
        yield live
    finally:
        asys.shutdown()
        sim.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
