"""The redeemer killed mid-redemption, live against polysim (proxy wallet, relayer): (a) SIGKILLed by
a crash port right after the relayer accepted the submit, before the transaction's id was written
down; (b) SIGKILLed by the test while the transaction is pending. After the supervisor restarts
it, the relayer holds exactly one redemption for each market, and each payout is credited once."""
from __future__ import annotations

import os
import signal
from decimal import Decimal as D

import pytest

from tests.integration.livesim import live_system
from tests.integration.test_capital_live import (PROXY, PROXY_ENV, SECTIONS, control, copy_one_buy, db_rows,
                                                 redemption, scenario)
from tests.integration.test_supervision import wait_for

pytestmark = pytest.mark.integration


def crash_after_submit(crash_file):
    """The crash port: Steps.submit SIGKILLs its process once the venue has the submit, when
    `crash_file` says so (removed first: once). Installed before the actor system starts, so every
    actor process forked from this one has it."""
    from polycopy.actors.redeem_steps import Steps

    submit = Steps.submit

    def _submit(self, kind, condition_id, amount_units):
        sent = submit(self, kind, condition_id, amount_units)
        if crash_file.exists():
            os.remove(crash_file)
            os.kill(os.getpid(), signal.SIGKILL)
        return sent

    return submit, _submit


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from polycopy.actors.redeem_steps import Steps

    tmp = tmp_path_factory.mktemp("redeem-crash")
    crash_file = tmp / "crash-after-submit"
    original, Steps.submit = crash_after_submit(crash_file)
    try:
        with live_system(tmp, scenario(PROXY, markets=("cap-a", "cap-b"), step_ms=1000), env=PROXY_ENV,
                         actors={"restart_backoff_min_ms": 50}, **SECTIONS) as lv:
            yield lv, crash_file
    finally:
        Steps.submit = original


def relayed(lv, cid):
    return [t for t in list(lv.sim.relayer.txs.values()) if cid in t["metadata"]]


def test_killed_after_the_submit_left_it_is_followed_never_sent_again(live):
    lv, crash_file = live
    m = copy_one_buy(lv, "cap-a")
    crash_file.write_text("after_submit")
    control(lv, "/resolve", {"market": "cap-a", "winner": "Up"})
    row = wait_for(lambda: redemption(lv, m.condition_id), 90, "the redemption after the crash")
    assert not crash_file.exists()  # the crash happened
    assert lv.status()["children"]["redeemer"]["restarts"] >= 1
    assert len(relayed(lv, m.condition_id)) == 1
    assert (row["attempts"], D(row["credited_usd"])) == (1, D("20"))
    assert lv.sim.call(lv.sim.venue.balance, PROXY) == D("109.80")


def test_killed_while_the_redemption_is_pending_it_is_followed_never_sent_again(live):
    lv, _ = live
    m = copy_one_buy(lv, "cap-b")
    restarts = lv.status()["children"]["redeemer"]["restarts"]
    control(lv, "/resolve", {"market": "cap-b", "winner": "Up"})
    wait_for(lambda: db_rows(lv, "SELECT * FROM redemptions WHERE condition_id=? AND state='submitted'",
                             [m.condition_id]), 60, "the redemption to be submitted")
    pid = lv.status()["children"]["redeemer"]["pid"]
    os.kill(pid, signal.SIGKILL)  # the relayer is still executing it (step 1 s)
    row = wait_for(lambda: redemption(lv, m.condition_id), 90, "the redemption after the kill")
    assert lv.status()["children"]["redeemer"]["restarts"] == restarts + 1
    assert len(relayed(lv, m.condition_id)) == 1
    assert (row["attempts"], D(row["credited_usd"])) == (1, D("20"))
    assert lv.sim.call(lv.sim.venue.balance, PROXY) == D("119.60")  # 100 - 2 x 10.20 + 2 x 20
