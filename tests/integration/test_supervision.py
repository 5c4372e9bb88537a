"""The supervisor on the real multiprocess base, with stub children: restart after SIGKILL,
kill switch, loopback-only sockets, shutdown that leaves no process behind, no orphans."""
from __future__ import annotations

import os
import signal
import socket
import time

import psutil
import pytest

from polycopy import runner
from polycopy.actors import system
from polycopy.actors.supervisor import CHILDREN, OPTIONAL, Supervisor
from polycopy.errors import SystemNotRunningError, SystemRunningError
from polycopy.messages import Init, KillSwitchChanged, ResetKillSwitch, StatusReply, StatusRequest, TripKillSwitch
from polycopy.config import load_config
from tests.conftest import ROOT, make_config

pytestmark = pytest.mark.integration
STUB = "polycopy.actors.base:ChildActor"
SHIPPED = load_config(ROOT / "config.yaml")
DEFAULT_ROLES = [r for r in CHILDREN if r not in OPTIONAL or OPTIONAL[r](SHIPPED)]  # what the shipped config creates


class StubSupervisor(Supervisor):
    children_spec = {role: STUB for role in CHILDREN}
    coalescer_spec = STUB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout_s=15.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def running(tmp_path):
    cfg = make_config(tmp_path, actors={"admin_port": free_port(), "ping_interval_ms": 200, "restart_backoff_min_ms": 50})
    asys = system.start_system(cfg.actors.admin_port, tmp_path / "state")
    sup = asys.createActor(StubSupervisor, globalName=system.SUPERVISOR_NAME)
    asys.tell(sup, Init(config=cfg))

    def status():
        reply = asys.ask(sup, StatusRequest(), 5)
        assert isinstance(reply, StatusReply)
        return reply.status

    wait_for(lambda: all(c["pid"] for c in status()["children"].values()), what="every child to answer a ping")
    yield cfg, asys, sup, status
    if system.admin_answers(cfg.actors.admin_port):
        asys.shutdown()


def system_pids(status) -> list[int]:
    return runner.system_pids(status()["pid"])


def test_a_sigkilled_child_is_restarted_with_a_new_process(running):
    cfg, asys, sup, status = running
    old_pid = status()["children"]["executor"]["pid"]
    os.kill(old_pid, signal.SIGKILL)
    new = wait_for(
        lambda: (c := status()["children"]["executor"])["restarts"] == 1 and c["pid"] not in (0, old_pid) and c,
        what="executor restarted",
    )
    assert psutil.pid_exists(new["pid"])


def test_kill_switch_trips_and_resets(running):
    cfg, asys, sup, status = running
    reply = asys.ask(sup, TripKillSwitch(reason="test", source="pytest"), 5)
    assert isinstance(reply, KillSwitchChanged) and reply.tripped
    assert status()["kill_switch"]["tripped"] is True
    reply = asys.ask(sup, ResetKillSwitch(), 5)
    assert isinstance(reply, KillSwitchChanged) and not reply.tripped
    assert status()["kill_switch"]["tripped"] is False


def test_every_socket_of_the_system_listens_on_loopback_only(running):
    cfg, asys, sup, status = running
    pids = set(system_pids(status))
    assert len(pids) >= len(DEFAULT_ROLES) + 1
    listening = [c for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN and c.pid in pids]
    assert listening, "the system should have listening sockets"
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}


def test_a_second_system_on_the_same_port_is_refused(running):
    cfg, *_ = running
    with pytest.raises(SystemRunningError, match="already answers"):
        system.start_system(cfg.actors.admin_port, cfg.store.path.parent)


def test_shutdown_leaves_no_process_behind(running):
    cfg, asys, sup, status = running
    pids = system_pids(status)
    assert len(pids) >= len(DEFAULT_ROLES) + 2
    message = runner.shutdown(cfg)
    assert "stopped" in message
    assert not system.admin_answers(cfg.actors.admin_port)
    assert [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE] == []


def test_children_exit_when_the_supervisor_dies(running):
    cfg, asys, sup, status = running
    st = status()
    children = [c["pid"] for c in st["children"].values()]
    os.kill(st["pid"], signal.SIGKILL)
    wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in children),
             what="orphaned children to exit")


def test_status_and_shutdown_never_start_a_system(tmp_path):
    cfg = make_config(tmp_path, actors={"admin_port": free_port()})
    with pytest.raises(SystemNotRunningError):
        runner.status(cfg)
    with pytest.raises(SystemNotRunningError):
        runner.shutdown(cfg)
    assert not system.admin_answers(cfg.actors.admin_port)
