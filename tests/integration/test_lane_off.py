"""Multiprocess tests again with the lane off (POLYCOPY_LANE=off, read as run.py reads it): on
Thespian alone the executor's crash points still leave one order per intent, and the venue's
close-only mode still holds. Their own modules run them with the lane on (the default).

The tests are imported from their modules: pytest collects them here too, under this module's
autouse fixture, which turns the lane off before their system starts."""
from __future__ import annotations

import psutil
import pytest

from polycopy import runner
from polycopy.lane import wiring

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def lane_off():
    mp = pytest.MonkeyPatch()
    mp.setenv(runner.LANE_ENV, "off")
    yield
    mp.undo()


from tests.integration.test_close_only import test_a_region_refusal_mid_run_puts_the_bot_in_close_only_mode  # noqa: E402,F401,I001
from tests.integration.test_executor_crash import (live, test_a_after_journal_before_post,  # noqa: E402,F401
                                                   test_b_while_the_post_is_in_flight,
                                                   test_c_after_the_venue_accepted_before_the_answer_was_stored)


def test_no_actor_opened_a_lane(live):
    _, status, _, _ = live
    assert wiring.settings() is None  # what every actor inherited from the process that started the system
    socks = [c.laddr for pid in runner.system_pids(status()["pid"])
             for c in psutil.Process(pid).net_connections(kind="unix") if str(c.laddr).endswith(".sock")]
    assert socks == []
