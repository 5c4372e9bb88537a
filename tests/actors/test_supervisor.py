"""The supervisor alone: creation, restart with backoff, kill switch, shutdown, coalescers."""
from __future__ import annotations

from thespian.actors import ActorAddress, ActorExitRequest, ChildActorExited

from polycopy.actors import supervisor as sup_mod
from polycopy.actors.supervisor import CHILDREN, OPTIONAL, Supervisor
from polycopy.messages import (
    EnsureCoalescer,
    Init,
    KillSwitchChanged,
    Peers,
    Pong,
    ResetKillSwitch,
    RetireCoalescer,
    Shutdown,
    ShutdownDone,
    StatusReply,
    StatusRequest,
    TripKillSwitch,
)
from polycopy.store import control, open_db
from tests.actors.harness import Harness
from polycopy.config import load_config
from tests.conftest import ROOT, make_config


STUB = "polycopy.actors.base:ChildActor"
SHIPPED = load_config(ROOT / "config.yaml")
DEFAULT_ROLES = [r for r in CHILDREN if r not in OPTIONAL or OPTIONAL[r](SHIPPED)]  # what the shipped config creates


class StubbedSupervisor(Supervisor):
    """The real supervisor with every child a bare ChildActor: this tests the supervisor only."""

    children_spec = {role: STUB for role in CHILDREN}
    coalescer_spec = STUB


def start(tmp_path, **sections):
    cfg = make_config(tmp_path, **sections)
    return Harness(StubbedSupervisor, config=cfg), cfg


def addr_of(h, role):
    return h.actor.children[role].addr


def test_creates_every_child_and_sends_each_init_with_peers(tmp_path):
    h, _ = start(tmp_path)
    assert len(h.ref.created) == len(DEFAULT_ROLES)
    assert [c.role for c in h.actor.children.values()] == DEFAULT_ROLES  # peers first, watchers last
    inits = h.sent(Init)
    assert len(inits) == len(DEFAULT_ROLES)
    last_peers = h.sent(Peers)[-1].peers
    assert set(last_peers) == set(DEFAULT_ROLES)


def test_restarts_an_exited_child_after_backoff_and_tells_peers_its_new_address(tmp_path):
    h, _ = start(tmp_path)
    old = addr_of(h, "risk")
    h.clear()
    h.deliver(ChildActorExited(old))
    assert h.actor.children["risk"].addr is None
    assert h.sent(Init) == []  # not before the backoff timer
    h.fire_wakeups(lambda p: isinstance(p, tuple) and p[0] == sup_mod.RESTART)
    new = addr_of(h, "risk")
    assert new is not None and new != old
    assert h.sent_to(new, Init)
    assert all(p.peers["risk"] == new for p in h.sent(Peers))
    assert h.actor.children["risk"].restarts == 1


def test_backoff_grows_with_restarts(tmp_path):
    h, _ = start(tmp_path, actors={"restart_backoff_min_ms": 100, "restart_backoff_max_ms": 350}, risk={"kill_after_child_failures": 99})
    delays = []
    for _ in range(4):
        h.ref.wakeups.clear()
        h.deliver(ChildActorExited(addr_of(h, "executor")))
        (period, payload), = [w for w in h.ref.wakeups if isinstance(w[1], tuple)]
        delays.append(period.total_seconds() * 1000)
        h.fire_wakeups(lambda p: isinstance(p, tuple))
    assert delays == [100, 200, 350, 350]


def test_repeated_failures_trip_the_kill_switch_and_persist_it(tmp_path):
    h, cfg = start(tmp_path, risk={"kill_after_child_failures": 3, "kill_failure_window_s": 60})
    for _ in range(3):
        h.deliver(ChildActorExited(addr_of(h, "intake")))
        h.fire_wakeups(lambda p: isinstance(p, tuple))
    assert h.actor.kill_tripped
    assert any(m.tripped for m in h.sent(KillSwitchChanged))
    tripped, reason = control.load_switch(open_db(cfg.store.path), control.KILL_SWITCH)
    assert tripped and "child failures" in reason


def test_kill_switch_survives_a_restart_and_only_reset_clears_it(tmp_path):
    h, cfg = start(tmp_path)
    h.deliver(TripKillSwitch(reason="manual", source="operator"), ActorAddress("cli"))
    assert h.sent_to("cli", KillSwitchChanged)[0].tripped
    h2 = Harness(StubbedSupervisor, config=cfg)  # a new process on the same database
    assert h2.actor.kill_tripped
    assert all(i.kill_switch_tripped for i in h2.sent(Init))
    h2.deliver(ResetKillSwitch(), ActorAddress("cli"))
    assert not h2.sent_to("cli", KillSwitchChanged)[0].tripped
    assert control.load_switch(open_db(cfg.store.path), control.KILL_SWITCH) == (False, "operator reset")


def test_paused_entries_survive_a_restart_and_a_venue_close_only_mode_does_not(tmp_path):
    from polycopy.messages import CloseOnly, EntriesChanged, PauseEntries, ResumeEntries

    h, cfg = start(tmp_path)
    h.deliver(PauseEntries(reason="lunch", source="telegram:42"), ActorAddress("cli"))
    assert [m.reason for m in h.sent_to("cli", EntriesChanged)] == ["entries_paused"]
    assert all(m.reason == "entries_paused" for m in h.sent(EntriesChanged))  # every child is told
    h.deliver(CloseOnly(reason="region_close_only", detail="403"))
    assert h.sent(EntriesChanged)[-1].reason == "region_close_only"  # the venue's reason wins while it holds
    h.deliver(ResumeEntries(source="cli"), ActorAddress("cli"))
    assert h.sent_to("cli", EntriesChanged)[-1].reason == "region_close_only"  # the operator cannot lift the venue's
    status = h.actor.status()["entries"]
    assert (status["paused"], status["operator_pause"], status["venue_close_only"]) == (True, "", "region_close_only")
    h.deliver(PauseEntries(reason="lunch"), ActorAddress("cli"))
    h2 = Harness(StubbedSupervisor, config=cfg)  # a restart: the venue is probed again, the operator's pause holds
    assert all(i.entries_paused == "entries_paused" for i in h2.sent(Init))
    h2.deliver(ResumeEntries(), ActorAddress("cli"))
    assert h2.sent_to("cli", EntriesChanged)[-1].reason == ""


def test_shutdown_stops_children_then_confirms_and_marks_the_request(tmp_path):
    h, cfg = start(tmp_path)
    h.clear()
    h.deliver(Shutdown(reason="test"), ActorAddress("cli"))
    exits = [t for t, m in h.ref.sent if isinstance(m, ActorExitRequest)]
    assert len(exits) == len(DEFAULT_ROLES)
    assert any(isinstance(m, KillSwitchChanged) and m.tripped for m in h.sent())  # orders stop at once
    assert h.sent_to("cli", ShutdownDone) == []
    for a in exits:
        h.deliver(ChildActorExited(a))
    assert h.sent_to("cli", ShutdownDone)
    assert h.sent(Init) == []  # nothing restarted during shutdown
    assert control.shutdown_requested(open_db(cfg.store.path)) == "test"
    assert control.load_switch(open_db(cfg.store.path), control.KILL_SWITCH)[0] is False  # a clean stop does not trip it


def test_coalescer_created_once_and_retired_without_counting_a_failure(tmp_path):
    h, _ = start(tmp_path)
    n = len(h.ref.created)
    h.deliver(EnsureCoalescer(key="123", condition_id="0xc", end_ts=0), ActorAddress("intake"))
    h.deliver(EnsureCoalescer(key="123", condition_id="0xc", end_ts=0), ActorAddress("intake"))
    assert len(h.ref.created) == n + 1
    addr = addr_of(h, "coalescer:123")
    assert "coalescer:123" in h.sent(Peers)[-1].peers
    h.deliver(RetireCoalescer(key="123"))
    h.deliver(ChildActorExited(addr))
    assert "coalescer:123" not in h.actor.children
    assert len(h.actor.failures) == 0


def test_a_silent_child_is_killed(tmp_path, monkeypatch):
    killed = []
    monkeypatch.setattr(sup_mod, "kill", killed.append)
    h, _ = start(tmp_path, actors={"ping_interval_ms": 50, "pong_timeout_ms": 100})
    for c in h.actor.children.values():
        h.deliver(Pong(role=c.role, pid=1000 + len(c.role)), c.addr)
    h.actor.children["executor"].last_pong -= 10  # silent for 10 s
    h.fire_wakeups(lambda p: p == sup_mod.TICK)
    assert killed == [1000 + len("executor")]


def test_status_reports_mode_children_and_kill_switch(tmp_path):
    h, _ = start(tmp_path)
    h.deliver(StatusRequest(), ActorAddress("cli"))
    (reply,) = h.sent_to("cli", StatusReply)
    assert reply.status["mode"] == "dry_run"
    assert set(reply.status["children"]) == set(DEFAULT_ROLES)
    assert reply.status["kill_switch"]["tripped"] is False


def test_the_mempool_watcher_exists_only_when_a_polygon_url_is_set(tmp_path):
    h, _ = start(tmp_path)
    assert "mempool" not in h.actor.children
    h2, _ = start(tmp_path / "b", venue={"polygon_ws_url": "ws://127.0.0.1:1/"})
    assert "mempool" in h2.actor.children


def test_a_coalescer_learns_its_market_end_after_creation_and_is_retired_after_it(tmp_path):
    import time as _time

    h, _ = start(tmp_path)
    h.deliver(EnsureCoalescer(key="777", condition_id="0xc", end_ts=0), ActorAddress("intake"))
    assert h.actor.children["coalescer:777"].end_ts == 0
    ended = int(_time.time()) - sup_mod.RETIRE_GRACE_S - 5
    h.deliver(EnsureCoalescer(key="777", condition_id="0xc", end_ts=ended), ActorAddress("intake"))
    assert h.actor.children["coalescer:777"].end_ts == ended
    addr = addr_of(h, "coalescer:777")
    h.clear()
    h.fire_wakeups(lambda p: p == sup_mod.TICK)
    assert any(t == addr and isinstance(m, ActorExitRequest) for t, m in h.ref.sent)


def test_coalescers_learn_a_restarted_risk_address(tmp_path):
    h, _ = start(tmp_path)
    h.deliver(EnsureCoalescer(key="9", condition_id="0xc", end_ts=0), ActorAddress("intake"))
    coal = addr_of(h, "coalescer:9")
    h.clear()
    h.deliver(EnsureCoalescer(key="10", condition_id="0xc", end_ts=0), ActorAddress("intake"))
    assert h.sent_to(coal, Peers) == []  # another coalescer is no news to a coalescer
    h.deliver(ChildActorExited(addr_of(h, "risk")))
    h.fire_wakeups(lambda p: isinstance(p, tuple) and p[0] == sup_mod.RESTART)
    (update,) = h.sent_to(coal, Peers)
    assert update.peers["risk"] == addr_of(h, "risk")
    assert not any(k.startswith("coalescer:") for k in update.peers)


def test_a_host_the_preflight_found_close_only_starts_every_child_close_only(tmp_path):
    cfg = make_config(tmp_path)
    h = Harness(StubbedSupervisor, init=False)
    h.deliver(Init(config=cfg, entries_paused="region_close_only"), h.parent)
    assert {i.entries_paused for i in h.sent(Init)} == {"region_close_only"}
    assert h.actor.status()["entries"]["venue_close_only"] == "region_close_only"


def test_a_status_request_before_init_is_answered_not_failed(tmp_path):
    h = Harness(StubbedSupervisor, init=False)
    h.deliver(StatusRequest(), ActorAddress("cli"))
    (reply,) = h.sent_to("cli", StatusReply)
    assert reply.status["starting"] is True
