"""The lane between real actor processes (multiprocTCPBase): messages arrive once and in order; a
SIGKILLed receiver or sender is restarted and the lane works again with nothing handled twice;
a local process without the key cannot get a message handled; with the lane off, or towards an
actor without one, everything goes through Thespian and still arrives in order."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from polycopy.actors import system
from polycopy.lane import wiring
from tests.conftest import ROOT
from tests.integration.lane_actors import Keeper, Pair, Report, Reported, SendRange, Start
from tests.integration.test_supervision import free_port, wait_for

pytestmark = pytest.mark.integration


def start(tmp_path, lane_on: bool = True, receiver: str = "lane"):
    wiring.configure(tmp_path / "lane" if lane_on else None)  # before the system: its processes inherit it
    asys = system.start_system(free_port(), tmp_path / "state", lane=None)
    keeper = asys.createActor(Keeper)
    pair = asys.ask(keeper, Start(receiver_cls=receiver), 10)
    assert isinstance(pair, Pair)
    return asys, keeper


@pytest.fixture
def systems():
    started = []
    yield started
    for asys in started:
        asys.shutdown()
    wiring.configure(None)


def report(asys, addr) -> Reported:
    r = asys.ask(addr, Report(), 10)
    assert isinstance(r, Reported), r
    return r


def pair_of(asys, keeper) -> Pair:
    return asys.ask(keeper, Report(), 10)


def ready(asys, p: Pair) -> None:
    """The sender knows the receiver, and the receiver has handled a message (its inbox is open)."""
    wait_for(lambda: report(asys, p.sender).target == p.receiver, what="the sender knows the receiver")
    report(asys, p.receiver)


def delivered(asys, addr, n):
    return wait_for(lambda: len((r := report(asys, addr)).got) >= n and r, what=f"{n} messages at the receiver")


def test_messages_arrive_once_and_in_order_over_the_lane(tmp_path, systems):
    asys, keeper = start(tmp_path)
    systems.append(asys)
    p = pair_of(asys, keeper)
    ready(asys, p)
    for first in range(0, 1000, 100):  # bursts of 100 sends from one handler
        asys.tell(p.sender, SendRange(first, 100))
    got = delivered(asys, p.receiver, 1000)
    assert got.got == list(range(1000))
    sent = report(asys, p.sender).stats
    assert sent["connects"] == 1 and sent["sent"] == 1000 and sent["fallback"] == 0
    assert got.stats["received"] == 1000 and got.stats["rejected"] == 0


def test_a_sigkilled_receiver_is_restarted_and_reached_again_with_nothing_twice(tmp_path, systems):
    asys, keeper = start(tmp_path)
    systems.append(asys)
    p = pair_of(asys, keeper)
    wait_for(lambda: report(asys, p.sender).target == p.receiver, what="the sender knows the receiver")
    asys.tell(p.sender, SendRange(0, 200))
    old = delivered(asys, p.receiver, 200)
    assert old.got == list(range(200))

    os.kill(old.pid, signal.SIGKILL)
    wait_for(lambda: not psutil.pid_exists(old.pid) or psutil.Process(old.pid).status() == psutil.STATUS_ZOMBIE,
             what="the receiver gone")
    # Sent while the receiver is dead or just restarted: to the dead one they are lost (a dead
    # letter through Thespian, or taken by a socket that died), to the new one, once, in order.
    asys.tell(p.sender, SendRange(200, 50))
    new = wait_for(lambda: (q := pair_of(asys, keeper)).receiver != p.receiver and q, what="a new receiver")
    ready(asys, Pair(p.sender, new.receiver, 1))  # the sender learns the new address
    seq = 250

    def probe():  # a send that found no inbox yet waits RETRY_S before the lane is tried again
        nonlocal seq
        asys.tell(p.sender, SendRange(seq, 1))
        seq += 1
        return report(asys, p.sender).stats["connects"] == 2

    wait_for(probe, what="the sender's lane to the new receiver")
    asys.tell(p.sender, SendRange(seq, 200))
    last = seq + 199
    r = wait_for(lambda: (r := report(asys, new.receiver)).got[-1:] == [last] and r, what="the last message")
    assert r.got == sorted(set(r.got))  # once each, in order
    assert set(range(250, last + 1)) <= set(r.got) <= set(range(200, last + 1))  # all sent after; none of the old one's
    assert r.stats["received"] >= 200  # the last 200 at least came over the new lane
    stats = report(asys, p.sender).stats
    assert stats["sent"] + stats["fallback"] == last + 1


def test_a_sigkilled_sender_is_restarted_and_its_successor_gets_through(tmp_path, systems):
    asys, keeper = start(tmp_path)
    systems.append(asys)
    p = pair_of(asys, keeper)
    wait_for(lambda: report(asys, p.sender).target == p.receiver, what="the sender knows the receiver")
    asys.tell(p.sender, SendRange(0, 100))
    delivered(asys, p.receiver, 100)
    os.kill(report(asys, p.sender).pid, signal.SIGKILL)
    new = wait_for(lambda: (q := pair_of(asys, keeper)).sender != p.sender and q, what="a new sender")
    wait_for(lambda: report(asys, new.sender).target == p.receiver, what="the new sender knows the receiver")
    asys.tell(new.sender, SendRange(100, 100))
    got = delivered(asys, p.receiver, 200)
    assert got.got == list(range(200)) and got.stats["received"] == 200
    assert report(asys, new.sender).stats["connects"] == 1


def test_a_local_process_without_the_key_cannot_get_a_message_handled(tmp_path, systems):
    asys, keeper = start(tmp_path)
    systems.append(asys)
    p = pair_of(asys, keeper)
    report(asys, p.receiver)  # its inbox is open
    inbox = wiring.inbox_path(tmp_path / "lane", wiring.endpoint(p.receiver))
    assert inbox.exists() and oct((tmp_path / "lane").stat().st_mode & 0o777) == "0o700"
    marker = tmp_path / "pwned"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-m", "tests.integration.lane_attacker", str(inbox), str(marker)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"  # the inbox closed all three connections
    assert not marker.exists()
    got = wait_for(lambda: (r := report(asys, p.receiver)).stats["rejected"] >= 3 and r, what="three rejections")
    assert got.got == [] and got.stats["received"] == 0
    wait_for(lambda: report(asys, p.sender).target == p.receiver, what="the sender knows the receiver")
    asys.tell(p.sender, SendRange(0, 10))  # the inbox still serves the system's own actors
    assert delivered(asys, p.receiver, 10).got == list(range(10))
    assert not marker.exists()


def test_with_the_lane_off_everything_goes_through_thespian_in_order(tmp_path, systems):
    asys, keeper = start(tmp_path, lane_on=False)
    systems.append(asys)
    p = pair_of(asys, keeper)
    wait_for(lambda: report(asys, p.sender).target == p.receiver, what="the sender knows the receiver")
    for first in range(0, 300, 100):
        asys.tell(p.sender, SendRange(first, 100))
    got = delivered(asys, p.receiver, 300)
    assert got.got == list(range(300)) and got.stats["received"] == 0
    stats = report(asys, p.sender).stats
    assert stats["fallback"] == 300 and stats["sent"] == 0 and stats["connects"] == 0
    assert not (tmp_path / "lane").exists()


def test_a_receiver_without_a_lane_gets_everything_through_thespian(tmp_path, systems):
    asys, keeper = start(tmp_path, receiver="plain")
    systems.append(asys)
    p = pair_of(asys, keeper)
    wait_for(lambda: report(asys, p.sender).target == p.receiver, what="the sender knows the receiver")
    asys.tell(p.sender, SendRange(0, 300))
    got = delivered(asys, p.receiver, 300)
    assert got.got == list(range(300))
    stats = report(asys, p.sender).stats
    assert stats["fallback"] == 300 and stats["sent"] == 0
