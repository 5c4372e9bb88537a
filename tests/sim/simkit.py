"""Helpers for the feed tests: a small scenario, a running Polysim, RTDS and sample shapes."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from websockets.sync.client import connect

from polycopy.sim.scenario import parse
from polycopy.sim.server import Polysim
from tests.conftest import POLYMARKET

SAMPLES = POLYMARKET
SOURCE = "0x1d0034134e339a309700ff2d34e99fa2d48b0313"
OURS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def small_scenario(**over):
    base = {
        "name": "test", "seed": 3,
        "series": [{"asset": "btc", "title": "Bitcoin"}],
        "markets": [{"slug": "will-it-rain", "question": "Will it rain?", "version": "v2",
                     "outcomes": ["Yes", "No"]}],
        "accounts": [{"address": OURS, "pusd": "500"}],
        "feeds": {"rtds_lag_ms": {"orders_matched": 0, "trades": 0}, "data_api_lag_ms": 0,
                  "noise_per_s": 0, "rtds_idle_timeout_s": 60},
    }
    for key, value in over.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) and key in base \
            else value
    return parse(base)


@pytest.fixture(scope="module")
def sim():
    with Polysim(small_scenario()) as running:
        yield running


@pytest.fixture
def fresh(sim):
    """The module's sim, reset before the test."""
    requests.post(sim.endpoints["control"] + "/reset", timeout=5).raise_for_status()
    return sim


def serve_legacy(sim, **flags) -> dict:
    """Serve retired routes again (data_api_v1, gamma_lists); /reset puts the scenario's back."""
    r = requests.post(sim.endpoints["control"] + "/legacy", json=flags, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def control(sim, path: str, body: dict, status: int = 200) -> dict:
    r = requests.post(sim.endpoints["control"] + path, json=body, timeout=5)
    assert r.status_code == status, r.text
    return r.json()


def wait_for(predicate, timeout_s: float = 5.0, step_s: float = 0.02):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    raise AssertionError("condition not met in time")


def inject(sim, **fill) -> list[dict]:
    fill.setdefault("market", "btc")
    fill.setdefault("outcome", "Up")
    fill.setdefault("price", "0.53")
    fill.setdefault("size", "2.7027")
    r = requests.post(sim.endpoints["control"] + "/fills", json=fill, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["records"]


def fault(sim, **spec) -> dict:
    r = requests.post(sim.endpoints["control"] + "/faults", json=spec, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def rtds(sim, *types, filters=None):
    """A connected RTDS socket subscribed to `activity` with the given types (default *)."""
    ws = connect(sim.endpoints["rtds"], open_timeout=5)
    subs = [{"topic": "activity", "type": t} for t in (types or ("*",))]
    if filters:
        for s in subs:
            s["filters"] = filters
    ws.send(json.dumps({"action": "subscribe", "subscriptions": subs}))
    return ws


def frames(ws, n: int, timeout_s: float = 5.0) -> list[dict]:
    """The next n JSON frames (skipping "" and PONG)."""
    out, deadline = [], time.monotonic() + timeout_s
    while len(out) < n:
        text = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if text and text != "PONG":
            out.append(json.loads(text))
    return out


def silent(ws, wait_s: float = 0.3) -> bool:
    """True if nothing but "" arrives for wait_s."""
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            text = ws.recv(timeout=left)
        except TimeoutError:
            return True
        if text:
            return False
    return True


def kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def same_shape(ours: dict, sample: dict, optional: set = frozenset()) -> None:
    """Same keys (besides `optional`) and the same JSON kind of value for each."""
    assert set(ours) - optional == set(sample) - optional, (
        sorted(set(ours) ^ set(sample)))
    for key in set(sample) & set(ours):
        if sample[key] is not None and ours[key] is not None:
            assert kind(ours[key]) == kind(sample[key]), (key, ours[key], sample[key])


def sample(name: str):
    return json.loads((SAMPLES / name).read_text())
