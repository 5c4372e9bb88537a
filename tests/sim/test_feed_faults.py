"""Every fault kind moves its knob, and `for_s` puts flags and values back."""
import asyncio
import time

import pytest

from polycopy.sim import faults
from polycopy.sim.model import FeedFaults, VenueFaults
from polycopy.sim.scenario import FaultSpec

CASES = [
    ("rtds_stall", None, lambda f, v: f.rtds_stalled),
    ("rtds_drop", None, lambda f, v: f.rtds_drop_now),
    ("rtds_lag_ms", 700, lambda f, v: f.extra.get("rtds_lag_ms_by_type") == {
        "orders_matched": 700, "trades": 700}),
    ("data_api_429", None, lambda f, v: f.data_api_rate_limit_until > time.monotonic()),
    ("data_api_lag_ms", 900, lambda f, v: f.data_api_lag_ms == 900),
    ("venue_429", 3, lambda f, v: v.rate_limit_until > time.monotonic() and v.retry_after_s == 3),
    ("venue_425", None, lambda f, v: v.engine_restart_until > time.monotonic()),
    ("venue_503", None, lambda f, v: v.post_only_until > time.monotonic()),
    ("venue_post_delay_ms", 250, lambda f, v: v.post_delay_ms == 250),
    ("venue_drop_post_response", None, lambda f, v: v.drop_post_response),
    ("venue_settlement_fails", None, lambda f, v: v.settlement_fails),
]


@pytest.mark.parametrize("kind, value, is_on", CASES, ids=[c[0] for c in CASES])
def test_fault_kinds(kind, value, is_on):
    async def run():
        feed, venue = FeedFaults(), VenueFaults()
        assert not is_on(feed, venue)
        faults.apply(FaultSpec(kind=kind, value=value, for_s=0.05), feed, venue,
                     asyncio.get_running_loop())
        assert is_on(feed, venue)
        await asyncio.sleep(0.1)
        return feed, venue

    feed, venue = asyncio.run(run())
    if kind != "rtds_drop":  # (RTDS clears that flag itself once it has dropped)
        assert not is_on(feed, venue)  # over after for_s
    shown = faults.snapshot(feed, venue)
    assert set(shown) == {"feed", "venue"} and "rate_limit_until" in shown["venue"]
