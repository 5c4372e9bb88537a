"""The hot path on the lane in the real system (live mode, polysim): every hot-path actor's inbox
takes connections from its senders, and with intake and risk SIGKILLed mid-run each fill is still
copied exactly once: the watchers replay their recent fills to the restarted intake (which drops
what it stored), the coalescers reach the restarted risk again."""
from __future__ import annotations

import os
import signal
from decimal import Decimal

import psutil
import pytest
import requests

from polycopy.lane import wiring
from polycopy.sim.scenario import parse
from tests.integration.livesim import OURS, live_system
from tests.integration.test_supervision import wait_for

pytestmark = pytest.mark.integration
MARKETS = ("lane-a", "lane-b")
HOT = ("intake", "risk", "executor")


def scenario():
    return parse({
        "name": "hot-lane", "seed": 19,
        "markets": [{"slug": m, "outcomes": ["Up", "Down"]} for m in MARKETS],
        "accounts": [{"address": OURS, "pusd": "5000"}],
        "feeds": {"rtds_lag_ms": {"orders_matched": 0, "trades": 0}, "data_api_lag_ms": 0, "noise_per_s": 0},
    })


def inject(lv, market: str, size: str) -> str:
    r = requests.post(lv.sim.endpoints["control"] + "/fills", timeout=5,
                      json={"market": market, "outcome": "Up", "side": "BUY", "price": "0.51", "size": size})
    assert r.status_code == 200, r.text
    return r.json()["records"][0]["token_id"]


def accepted_connections(pid: int, folder) -> int:
    """Connections this process accepted on its lane inbox (its listener not counted)."""
    mine = [c for c in psutil.Process(pid).net_connections(kind="unix") if str(c.laddr).startswith(str(folder))]
    return max(0, len(mine) - 1)


def restart(lv, role: str) -> None:
    before = lv.status()["children"][role]
    os.kill(before["pid"], signal.SIGKILL)
    wait_for(lambda: (c := lv.status()["children"][role])["restarts"] > before["restarts"] and c["alive"]
             and c["pid"] not in (0, before["pid"]), timeout_s=30, what=f"{role} restarted")


def test_the_hot_path_rides_the_lane_and_restarts_copy_each_fill_once(tmp_path):
    with live_system(tmp_path, scenario(), copy={"copy_mode": "fill_by_fill"},
                     actors={"restart_backoff_min_ms": 50}) as lv:
        folder = wiring.settings().folder
        sizes: dict[str, list] = {}

        def copy(market, size):
            token = inject(lv, market, size)
            sizes.setdefault(token, []).append(Decimal(size))
            return token

        def copied(token):
            return len(lv.orders_for(token)) >= len(sizes[token])

        first = [copy(m, s) for m, s in (("lane-a", "6"), ("lane-b", "7"))]
        wait_for(lambda: all(copied(t) for t in first), timeout_s=30, what="the first copies")
        kids = wait_for(lambda: (k := lv.status()["children"]) and all(c["pid"] for c in k.values()) and k,
                        what="every actor's pid (its first Pong)")
        for role in [*HOT, *(n for n in kids if n.startswith("coalescer:"))]:
            assert accepted_connections(kids[role]["pid"], folder) >= 1, f"{role} took nothing on its lane"

        restart(lv, "intake")  # the watchers replay their recent fills to it: all known already
        copy("lane-a", "8")
        wait_for(lambda: all(copied(t) for t in sizes), timeout_s=30, what="the copy through the new intake")
        restart(lv, "risk")  # the coalescers learn its new address (an intent in flight to the old one is lost,
        # on the lane as through Thespian: nothing replays it, so none is in flight when it dies)
        copy("lane-b", "9")
        copy("lane-a", "5.5")
        # The replay reached the new intake before the fills injected after it (one watcher, in order),
        # so once those are copied a duplicate from it would be among the orders already.
        wait_for(lambda: all(copied(t) for t in sizes), timeout_s=30, what="every fill copied")
        for token in sizes:
            got = sorted(o.original_size for o in lv.orders_for(token))
            assert len(got) == len(sizes[token])  # one order per fill: none lost, none twice
            assert all(abs(a - b) < 1 for a, b in zip(got, sorted(sizes[token]))), (got, sizes[token])  # tick-rounded
            ids = [r.get("order_id") for r in lv.posts_for(token)]
            assert len(ids) == len(set(ids)) == len(got)  # one POST per order, no order sent twice
        kids = lv.status()["children"]  # restart() waited for their new pids
        for role in ("intake", "risk"):
            assert accepted_connections(kids[role]["pid"], folder) >= 1, f"the restarted {role} is off the lane"
