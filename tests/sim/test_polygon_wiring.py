"""Polysim's Polygon node wired in: scenario keys, the endpoint, control faults, and a reverted or
dropped settlement kept off RTDS and the Data API."""
import pytest
import requests

from polycopy.sim.scenario import ScenarioError
from polycopy.sim.server import Polysim
from tests.sim.simkit import fresh, inject, sim, small_scenario, wait_for

__all__ = ["sim", "fresh"]


def fault(sim, **spec):
    r = requests.post(sim.endpoints["control"] + "/faults", json=spec, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["polygon"]


def test_scenario_keys_set_the_node_with_defaults_from_the_dossier():
    sc = small_scenario()
    assert (sc.polygon.pending_delay_ms, sc.polygon.unseen_share, sc.polygon.noise_per_s) == (650, 0.07, 3.0)
    with pytest.raises(ScenarioError, match="add up to more than 1"):
        small_scenario(polygon={"unseen_share": 0.6, "revert_share": 0.6})
    with pytest.raises(ScenarioError, match="polygon.noise_per_s"):
        small_scenario(polygon={"noise_per_s": 0})


def test_the_node_is_served_and_every_source_transaction_is_settled_on_it(fresh):
    assert fresh.endpoints["polygon"].startswith("ws://127.0.0.1:")
    rec = inject(fresh, side="BUY", price="0.5", size="4")
    attempt = list(fresh.polygon.attempts)[-1]
    assert attempt.hash == rec[0]["tx_hash"] and attempt.outcome == "mined"
    r = requests.post(fresh.endpoints["polygon"].replace("ws://", "http://"),
                      json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=5)
    assert r.json()["result"] == "0x89"


def test_faults_set_the_node_knobs_and_reset_restores_them(fresh):
    knobs = fault(fresh, kind="polygon_revert_share", value=0.25)
    assert knobs["revert_share"] == 0.25 and isinstance(knobs["revert_share"], float)
    assert fault(fresh, kind="polygon_pending_delay_ms", value=40)["pending_delay_ms"] == 40
    shown = requests.get(fresh.endpoints["control"] + "/faults", timeout=5).json()
    assert shown["polygon"]["revert_share"] == 0.25 and "feed" in shown and "venue" in shown
    requests.post(fresh.endpoints["control"] + "/reset", timeout=5).raise_for_status()
    assert (fresh.polygon.faults.revert_share, fresh.polygon.faults.pending_delay_ms) == (0.0, 650)


def test_a_fault_given_for_a_while_is_put_back(fresh):
    fault(fresh, kind="polygon_unseen_share", value=1, for_s=0.2)
    assert fresh.polygon.faults.unseen_share == 1.0
    wait_for(lambda: fresh.polygon.faults.unseen_share == 0.07, 3)


@pytest.mark.parametrize("kind,outcome", [("polygon_revert_share", "reverted"), ("polygon_drop_share", "dropped")])
def test_a_failed_settlement_is_never_listed(fresh, kind, outcome):
    fault(fresh, kind="polygon_unseen_share", value=0)  # reset puts it back
    fault(fresh, kind=kind, value=1)
    try:
        assert inject(fresh, side="BUY", price="0.5", size="4") == []
    finally:
        fault(fresh, kind=kind, value=0)
    assert list(fresh.polygon.attempts)[-1].outcome == outcome
    assert fresh.feed.records == []
    stats = requests.get(fresh.endpoints["control"] + "/stats", timeout=5).json()
    assert stats["settlements_failed"] >= 1 and stats["source_fills"] == 0


def test_a_retried_settlement_is_listed_under_the_hash_that_was_mined(fresh):
    fault(fresh, kind="polygon_unseen_share", value=0)
    fault(fresh, kind="polygon_retry_share", value=1)
    try:
        rec = inject(fresh, side="BUY", price="0.5", size="4")
    finally:
        fault(fresh, kind="polygon_retry_share", value=0)
    first, retry = list(fresh.polygon.attempts)[-2:]
    assert first.outcome == "reverted" and retry.outcome == "mined" and rec[0]["tx_hash"] == retry.hash


def test_a_timeline_fault_reaches_the_node():
    sc = small_scenario(faults=[{"at_s": 0, "kind": "polygon_revert_share", "value": 1}])
    with Polysim(sc) as running:
        wait_for(lambda: running.polygon.faults.revert_share == 1.0, 3)
