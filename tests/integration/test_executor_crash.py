"""The executor process SIGKILLed at the worst moments, in live mode against polysim:
(a) after journaling, before posting; (b) while the POST is in flight; (c) after the venue
accepted it, before the answer was stored. After the supervisor restarts it, the venue holds
exactly one order for the intent in (b) and (c), and one or none in (a) — never two."""
from __future__ import annotations

import os
import signal

import pytest
import requests

from polycopy.sim.scenario import parse
from polycopy.store import journal
from polycopy.store.db import open_db
from tests.integration.livesim import OURS, live_system
from tests.integration.test_supervision import wait_for

pytestmark = pytest.mark.integration


def crash_at_stage(crash_file):
    """The crash port: the placer's stage marks (priced, signed, journaled, sent, acked) SIGKILL the
    process at the stage named in `crash_file`, once (the file is removed first). Installed in this
    process before the actor system starts, so every actor process forked from it has it."""
    from polycopy.venue.placer import Placer

    mark = Placer._mark

    def _mark(self, stage):
        mark(self, stage)
        try:
            wanted = crash_file.read_text().strip()
        except OSError:
            return
        if wanted == stage:
            os.remove(crash_file)
            os.kill(os.getpid(), signal.SIGKILL)

    return mark, _mark


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from polycopy.venue.placer import Placer

    tmp = tmp_path_factory.mktemp("crash")
    crash_file = tmp / "crash-at"
    original, Placer._mark = crash_at_stage(crash_file)
    scenario = parse({
        "name": "crash", "seed": 9,
        "markets": [{"slug": m, "outcomes": ["Up", "Down"]} for m in ("crash-a", "crash-b", "crash-c")],
        "accounts": [{"address": OURS, "pusd": "1000"}],
        "feeds": {"rtds_lag_ms": {"orders_matched": 0, "trades": 0}, "data_api_lag_ms": 0, "noise_per_s": 0},
    })
    try:
        with live_system(tmp, scenario, execution={"post_timeout_ms": 8000}, actors={"restart_backoff_min_ms": 50}) as lv:
            yield lv.sim, lv.status, crash_file, lv.config
    finally:
        Placer._mark = original


def inject(sim, market: str) -> str:
    r = requests.post(sim.endpoints["control"] + "/fills", timeout=5,
                      json={"market": market, "outcome": "Up", "side": "BUY", "price": "0.51", "size": "12"})
    assert r.status_code == 200, r.text
    return r.json()["records"][0]["token_id"]


def fault(sim, **spec):
    requests.post(sim.endpoints["control"] + "/faults", json=spec, timeout=5).raise_for_status()


def orders_for(sim, token):
    return [o for o in list(sim.venue.orders.values()) if o.asset_id == token]


def posts_for(sim, token):
    return [r for r in list(sim.venue.records) if r.get("path") == "/order" and r.get("token_id") == token]


def executor(status) -> dict:
    return status()["children"]["executor"]


def resolved(cfg, token: str) -> bool:
    """Every intent on the token has its outcome and no order of it is open: recovery is done."""
    db = open_db(cfg.store.path)
    journal.ensure(db)
    states = [r["state"] for r in db.query(f"SELECT state FROM {journal.INTENTS} WHERE token_id = ?", [token])]
    return bool(states) and all(s not in ("received", "parked", "ordered") for s in states) and not [
        o for o in journal.open_orders(db) if o["token_id"] == token]


def wait_restarted(status, restarts_before: int):
    wait_for(lambda: (c := executor(status))["restarts"] > restarts_before and c["pid"], timeout_s=30,
             what="the executor to be restarted")


def test_a_after_journal_before_post(live):
    sim, status, crash_file, cfg = live
    before = executor(status)["restarts"]
    crash_file.write_text("journaled")
    token = inject(sim, "crash-a")
    wait_restarted(status, before)
    wait_for(lambda: resolved(cfg, token), timeout_s=30, what="recovery to settle the journaled order")
    assert not crash_file.exists(), "the executor never reached the crash point"
    assert len(orders_for(sim, token)) <= 1
    assert len({r.get("order_id") for r in posts_for(sim, token)}) <= 1  # never a second signed order


def test_b_while_the_post_is_in_flight(live):
    sim, status, _, cfg = live
    before = executor(status)["restarts"]
    pid = executor(status)["pid"]
    fault(sim, kind="venue_post_delay_ms", value=3000)
    try:
        token = inject(sim, "crash-b")
        wait_for(lambda: posts_for(sim, token), timeout_s=10, what="the POST to reach the venue")
        os.kill(pid, signal.SIGKILL)
    finally:
        fault(sim, kind="venue_post_delay_ms", value=0)
    wait_restarted(status, before)
    wait_for(lambda: len(orders_for(sim, token)) == 1, timeout_s=15, what="the held order to exist")
    wait_for(lambda: resolved(cfg, token), timeout_s=30, what="recovery to find the order by its hash")
    assert len(orders_for(sim, token)) == 1
    assert len({r.get("order_id") for r in posts_for(sim, token)}) == 1


def test_c_after_the_venue_accepted_before_the_answer_was_stored(live):
    sim, status, crash_file, cfg = live
    before = executor(status)["restarts"]
    crash_file.write_text("acked")
    token = inject(sim, "crash-c")
    wait_restarted(status, before)
    wait_for(lambda: resolved(cfg, token), timeout_s=30, what="recovery to find the accepted order")
    assert not crash_file.exists(), "the executor never reached the crash point"
    assert len(orders_for(sim, token)) == 1
    assert len({r.get("order_id") for r in posts_for(sim, token)}) == 1
