"""The root of the actor tree: creates every actor (children.py says which), restarts the ones
that exit, pings them, and owns the two switches that survive a restart: the kill switch and the
operator's pause of entries (with the venue's close-only mode beside it, for this run).

Restarted actors get new addresses, so after every (re)creation the supervisor sends `Peers`
to everyone who routes by role. Repeated child failures inside a window trip the kill switch,
which is persisted and survives a restart until the operator resets it.

Long because the tree's lifecycle (spawn, restart, liveness, retirement, shutdown) and the
switches every child obeys meet here; each handler is short.
"""
from __future__ import annotations

import os
import time
from collections import deque
from datetime import timedelta

from thespian.actors import ActorExitRequest, ChildActorExited, DeadEnvelope

from polycopy.actors.base import ChildActor
from polycopy.actors.children import CHILDREN, COALESCER, OPTIONAL, Child, kill, load_class
from polycopy.messages import (
    Alert,
    ChildFailed,
    CloseOnly,
    EnsureCoalescer,
    EntriesChanged,
    Init,
    KillSwitchChanged,
    PauseEntries,
    Peers,
    Ping,
    Pong,
    ReloadConfig,
    ResetKillSwitch,
    ResumeEntries,
    RetireCoalescer,
    Shutdown,
    ShutdownDone,
    StatusReply,
    StatusRequest,
    TripKillSwitch,
)
from polycopy.store import control, create_schema, open_db
from polycopy.store.db import DURABLE

TICK = "tick"
RESTART = "restart"
SHUTDOWN_TIMEOUT = "shutdown-timeout"
SHUTDOWN_TIMEOUT_S = 6.0
RETIRE_GRACE_S = 60  # keep a coalescer this long after its market ends


class Supervisor(ChildActor):
    role = "supervisor"
    children_spec = CHILDREN  # tests replace these two
    coalescer_spec = COALESCER

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.children: dict[str, Child] = {}  # name -> Child
        self.failures: deque[float] = deque()
        self.kill_reason = ""
        self.operator_pause = ""  # the operator's pause of entries (persisted), "" when none
        self.venue_close_only = ""  # the venue allows closing trades only (this run), "" when not
        self.stopping = None  # (requester, reason) while shutting down
        self.db = None
        self.nonce = 0
        self.started_ts = time.time()
        self.snapshot: dict = {}
        self._singletons: dict = {}  # the non-coalescer addresses coalescers last heard of

    # ------------------------------------------------------------ start

    def on_init(self, msg: Init) -> None:
        self.parent = None  # the runner is not an actor to report failures to
        create_schema(self.config.store.path, self.config.store.synchronous)  # before any child opens the file
        self.db = open_db(self.config.store.path, DURABLE)  # the kill switch survives a power loss
        self.kill_tripped, self.kill_reason = control.load_switch(self.db, control.KILL_SWITCH)
        paused, reason = control.load_switch(self.db, control.ENTRIES_PAUSED)
        self.operator_pause = (reason or "paused") if paused else ""
        self.venue_close_only = msg.entries_paused  # the runner's preflight found this host close-only
        self.entries_paused = self._entries_reason()
        control.clear_shutdown_request(self.db)
        self.handleDeadLetters()
        for role, path in self.children_spec.items():
            if role not in OPTIONAL or OPTIONAL[role](self.config):
                self._spawn(Child(role, "", path))
        self._broadcast_peers()
        self.wakeupAfter(self._ping_period(), payload=TICK)
        self.log.info("started {} children; kill switch {}", len(self.children), "TRIPPED" if self.kill_tripped else "armed")

    def _spawn(self, child: Child) -> None:
        child.addr = self.createActor(load_class(child.cls_path))
        child.last_pong = time.monotonic()
        self.children[child.name] = child
        self.send(
            child.addr,
            Init(config=self.config, peers=self._peer_map(), key=child.key, kill_switch_tripped=self.kill_tripped,
                 entries_paused=self.entries_paused),
        )

    def _peer_map(self) -> dict:
        return {c.name: c.addr for c in self.children.values() if c.addr is not None}

    def _broadcast_peers(self) -> None:
        """Everyone learns every address; coalescers only the singletons (risk, telemetry, ...),
        so a restarted risk is reached again, without telling each coalescer about the others."""
        full = self._peer_map()
        peers = Peers(peers=full)
        singletons = {k: v for k, v in full.items() if not k.startswith("coalescer:")}
        tell_coalescers = singletons != self._singletons  # a new coalescer alone changes nothing for them
        self._singletons = singletons
        for c in self.children.values():
            if c.addr is not None and (c.role != "coalescer" or tell_coalescers):
                self.send(c.addr, Peers(peers=singletons) if c.role == "coalescer" else peers)

    # ------------------------------------------------------------ children coming and going

    def receiveMsg_EnsureCoalescer(self, msg: EnsureCoalescer, sender):
        name = f"coalescer:{msg.key}"
        existing = self.children.get(name)
        if existing is None:
            self._spawn(Child("coalescer", msg.key, self.coalescer_spec, end_ts=msg.end_ts))
            self._broadcast_peers()
        else:
            if msg.end_ts and not existing.end_ts:
                existing.end_ts = msg.end_ts  # learnt after creation: now it can be retired on time
            if existing.addr is not None:
                self.send(sender, Peers(peers={name: existing.addr}))

    def receiveMsg_RetireCoalescer(self, msg: RetireCoalescer, sender):
        self._retire(f"coalescer:{msg.key}")

    def _retire(self, name: str) -> None:
        child = self.children.get(name)
        if child and child.addr is not None and not child.retiring:
            child.retiring = True
            self.send(child.addr, ActorExitRequest())

    def receiveMsg_ChildActorExited(self, msg: ChildActorExited, sender):
        child = self._child_at(msg.childAddress)
        if child is None:
            return
        child.addr, child.pid = None, 0  # the status shows no dead pid: the next one comes with its first Pong
        if self.stopping is not None or child.retiring:
            del self.children[child.name]
            self._maybe_finish_shutdown()
            return
        self._record_failure(f"{child.name} exited")
        delay_ms = min(
            self.config.actors.restart_backoff_max_ms,
            self.config.actors.restart_backoff_min_ms * (2 ** min(child.restarts, 16)),
        )
        child.restarts += 1
        self.log.warning("{} exited; restart #{} in {} ms", child.name, child.restarts, delay_ms)
        self._alert("child_restart", f"{child.name} exited and is restarted (#{child.restarts})")
        self.wakeupAfter(timedelta(milliseconds=delay_ms), payload=(RESTART, child.name))

    def _restart(self, name: str) -> None:
        child = self.children.get(name)
        if child is None or child.addr is not None or self.stopping is not None:
            return
        self._spawn(child)
        self._broadcast_peers()

    def receiveMsg_ChildFailed(self, msg: ChildFailed, sender):
        self._record_failure(f"{msg.role}: {msg.reason}")

    def receiveMsg_DeadEnvelope(self, msg: DeadEnvelope, sender):
        # Never replay a dead-lettered message (it may be an order): count and drop.
        self.log.warning("dropped dead letter {} to {}", type(msg.deadMessage).__name__, msg.deadAddress)

    def _record_failure(self, what: str) -> None:
        now = time.monotonic()
        self.failures.append(now)
        window = self.config.risk.kill_failure_window_s
        while self.failures and self.failures[0] < now - window:
            self.failures.popleft()
        if len(self.failures) >= self.config.risk.kill_after_child_failures and not self.kill_tripped:
            self._setkill(True, f"{len(self.failures)} child failures in {window} s (last: {what})")

    # ------------------------------------------------------------ liveness

    def _ping_period(self) -> timedelta:
        return timedelta(milliseconds=self.config.actors.ping_interval_ms)

    def on_wakeup(self, payload) -> None:
        if payload == TICK:
            self._tick()
        elif payload == SHUTDOWN_TIMEOUT:
            self._finish_shutdown(timed_out=True)
        elif isinstance(payload, tuple) and payload[0] == RESTART:
            self._restart(payload[1])

    def _tick(self) -> None:
        if self.stopping is not None:
            return
        now = time.monotonic()
        limit = self.config.actors.pong_timeout_ms / 1000
        self.nonce += 1
        for c in list(self.children.values()):
            if c.addr is None or c.retiring:
                continue
            if c.role == "coalescer" and c.end_ts and time.time() > c.end_ts + RETIRE_GRACE_S:
                self._retire(c.name)
                continue
            if now - c.last_pong > limit and c.pid:
                self.log.error("{} (pid {}) silent for {:.1f} s; killing it", c.name, c.pid, now - c.last_pong)
                self._record_failure(f"{c.name} hung")
                kill(c.pid)
                c.pid = 0
                continue
            self.send(c.addr, Ping(nonce=self.nonce))
        self.wakeupAfter(self._ping_period(), payload=TICK)

    def receiveMsg_Pong(self, msg: Pong, sender):
        c = self._child_at(sender)
        if c is not None:
            c.pid = msg.pid
            c.last_pong = time.monotonic()

    def _child_at(self, addr) -> Child | None:
        return next((c for c in self.children.values() if c.addr == addr), None)

    # ------------------------------------------------------------ kill switch

    def receiveMsg_TripKillSwitch(self, msg: TripKillSwitch, sender):
        if not self.kill_tripped:
            self._setkill(True, f"{msg.reason} ({msg.source})" if msg.source else msg.reason)
        self.send(sender, KillSwitchChanged(tripped=True, reason=self.kill_reason))

    def receiveMsg_ResetKillSwitch(self, msg: ResetKillSwitch, sender):
        self.failures.clear()
        self._setkill(False, msg.reason)
        self.send(sender, KillSwitchChanged(tripped=False, reason=msg.reason))

    def _setkill(self, tripped: bool, reason: str) -> None:
        control.save_switch(self.db, control.KILL_SWITCH, tripped, reason)  # persisted before anyone is told
        self.kill_tripped, self.kill_reason = tripped, reason
        (self.log.error if tripped else self.log.warning)("kill switch {}: {}", "TRIPPED" if tripped else "reset", reason)
        self._alert("kill_switch", f"kill switch tripped: {reason}", resolved=not tripped)
        self._tell_children(KillSwitchChanged(tripped=tripped, reason=reason))

    # ------------------------------------------------------------ entries (open no new positions)

    def _entries_reason(self) -> str:
        """The reason code risk refuses opening trades with now: the venue's close-only mode first, then
        the operator's pause ("" when entries are open)."""
        return self.venue_close_only or ("entries_paused" if self.operator_pause else "")

    def receiveMsg_PauseEntries(self, msg: PauseEntries, sender):
        control.save_switch(self.db, control.ENTRIES_PAUSED, True, msg.reason)
        self.operator_pause = msg.reason or "paused"
        self._entries_changed(f"entries paused by {msg.source or 'the operator'}: {msg.reason}", sender)

    def receiveMsg_ResumeEntries(self, msg: ResumeEntries, sender):
        control.save_switch(self.db, control.ENTRIES_PAUSED, False, "")
        self.operator_pause = ""
        self._entries_changed(f"entries resumed by {msg.source or 'the operator'}", sender)

    def receiveMsg_CloseOnly(self, msg: CloseOnly, sender):
        if self.venue_close_only == msg.reason:
            return
        self.venue_close_only = msg.reason
        self._alert("close_only", f"the venue allows closing trades only from this host ({msg.reason}): no new "
                                  f"positions until a restart probes it again. {msg.detail}"[:500])
        self._entries_changed(f"close-only mode: {msg.reason}")

    def _entries_changed(self, what: str, requester=None) -> None:
        self.log.warning("{}", what)
        self.entries_paused = self._entries_reason()
        changed = EntriesChanged(reason=self.entries_paused)
        self._tell_children(changed)
        if requester is not None:
            self.send(requester, changed)

    def _tell_children(self, msg) -> None:
        for c in self.children.values():
            if c.addr is not None:
                self.send(c.addr, msg)

    def receiveMsg_Alert(self, msg: Alert, sender):
        """From the runner (a refused policy reload): telemetry delivers it like our own."""
        self._alert(msg.condition, msg.text, msg.resolved)

    def _alert(self, condition: str, text: str, resolved: bool = False) -> None:
        t = self.children.get("telemetry")
        if t is not None and t.addr is not None:
            self.send(t.addr, Alert(condition=condition, text=text, resolved=resolved))

    # ------------------------------------------------------------ operator requests

    def receiveMsg_StatusRequest(self, msg: StatusRequest, sender):
        self.send(sender, StatusReply(status=self.status()))

    def receiveMsg_TelemetrySnapshot(self, msg, sender):
        self.snapshot = dict(msg.snapshot)

    def status(self) -> dict:
        if self.config is None:  # asked before the runner's Init arrived
            return {"starting": True, "pid": os.getpid()}
        return {
            "mode": self.config.execution.mode.value,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_ts, 1),
            "kill_switch": {"tripped": self.kill_tripped, "reason": self.kill_reason},
            "entries": {"paused": bool(self.entries_paused), "reason": self.entries_paused,
                        "operator_pause": self.operator_pause, "venue_close_only": self.venue_close_only},
            "children": {
                c.name: {"pid": c.pid, "restarts": c.restarts, "alive": c.addr is not None}
                for c in sorted(self.children.values(), key=lambda c: c.name)
            },
            "recent_failures": len(self.failures),
            "telemetry": self.snapshot,
        }

    def receiveMsg_ReloadConfig(self, msg: ReloadConfig, sender):
        self.config = msg.config
        self._tell_children(msg)
        self.log.info("policy reloaded")

    def receiveMsg_Shutdown(self, msg: Shutdown, sender):
        if self.stopping is not None:
            return
        self.log.info("shutting down: {}", msg.reason)
        self.stopping = (sender, msg.reason)
        control.request_shutdown(self.db, msg.reason)
        # Stop new orders at once (in memory only: a clean stop does not trip the persisted switch).
        self._tell_children(KillSwitchChanged(tripped=True, reason=f"shutting down: {msg.reason}"))
        for c in self.children.values():
            if c.addr is not None:
                self.send(c.addr, ActorExitRequest())
        self.wakeupAfter(timedelta(seconds=SHUTDOWN_TIMEOUT_S), payload=SHUTDOWN_TIMEOUT)
        self._maybe_finish_shutdown()

    def on_exit(self) -> None:
        # The actor system itself is stopping: children exiting now are not failures.
        if self.stopping is None:
            self.stopping = (None, "actor system shutdown")

    def _maybe_finish_shutdown(self) -> None:
        if self.stopping is not None and not any(c.addr is not None for c in self.children.values()):
            self._finish_shutdown(timed_out=False)

    def _finish_shutdown(self, timed_out: bool) -> None:
        if self.stopping is None or self.stopping[0] is None:
            return
        requester, reason = self.stopping
        self.stopping = (None, reason)
        for c in self.children.values():  # anything that ignored ActorExitRequest
            if c.addr is not None and c.pid:
                kill(c.pid)
        self.send(requester, ShutdownDone(reason=reason + (" (timed out waiting for children)" if timed_out else "")))
