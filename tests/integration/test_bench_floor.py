"""bench.floor end to end, briefly: every transport's chain delivers every message once, in order
(timings are the benchmark's business, not a test's)."""
from __future__ import annotations

import pytest

from bench import floor
from bench.floor_actors import KINDS
from polycopy.lane import wiring

pytestmark = pytest.mark.integration


def test_every_chain_delivers_everything_once_in_order(tmp_path):
    result = floor.run(KINDS, rate=200, paced=30, bursts=3, burst_gap_s=0.1, tmp=tmp_path)
    assert set(result) == set(floor._available(KINDS)) and {"thespian", "lane"} <= set(result)
    for kind, r in result.items():
        assert (r["paced"]["delivered"], r["burst"]["delivered"]) == (30, 48), kind
        assert r["duplicates"] == 0 and r["out_of_order"] == 0, kind
        assert r["paced"]["four_hops_ms"]["n"] == 30 and r["burst"]["last_of_burst_ms"]["n"] == 3, kind
    assert wiring.settings() is None  # the run turned the lane off again for this process


def test_measure_keeps_bench_mempools_fields(tmp_path):
    out = floor.measure(rate=50, n=12, tmp=tmp_path)
    assert out["n"] == 12 and out["four_hops_ms"]["p50"] > 0 and out["hop_ms"]["n"] == 48
