"""What every child actor shares: Init and Peers wiring, Ping/Pong, the kill-switch flag,
config reload, the orphan check, the fast lane to its peers, and one rule for exceptions.

Subclasses implement `receiveMsg_<Type>` for their own messages and may override the `on_*`
hooks. A handler that raises is logged and reported to the supervisor (`ChildFailed`), never
re-raised: Thespian would otherwise run it a second time on the same instance, which for an
actor with side effects (posting an order) means doing it twice.

The lane (polycopy/lane): every message to a peer (an address from Init/Peers: the actors routed
to by role) goes through `self.lane`, which writes it to the peer's unix-socket inbox or, when it
cannot, hands it to Thespian in order. Everything else (the supervisor's Init, Peers, Ping,
kill switch, reload and exit; answers to the supervisor and to asks) stays on Thespian. With no
lane configured (`wiring.configure`, done by `system.start_system`) `send` is Thespian's.

Batches per wake-up: the lane hands over every frame it read in one wake-up before any of them
is handled. A run of consecutive messages with the same `receiveBatch_<Type>(msgs)` handler is
handled by one call (a single message, from either path, is a batch of one); the others one by
one with `receiveMsg_<Type>`, in arrival order. A batch handler applies the error rule to each
item it can fail on by itself (`handler_failed`), so one bad message does not lose the rest.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
from datetime import timedelta

from loguru import logger
from thespian.actors import ActorExitRequest, ActorTypeDispatcher, ThespianWatch, WakeupMessage

from polycopy.lane import Lane, wiring
from polycopy.messages import (ChildFailed, EntriesChanged, Init, KillSwitchChanged, Peers, Ping, Pong, ReloadConfig,
                               Reports)

ORPHAN_CHECK = "orphan-check"
ORPHAN_CHECK_S = 1.0
REPORT = "report-flush"
# Reports to telemetry wait this long and leave as one message: a send costs the sender 0.4-1.2 ms
# of CPU (THESPIAN.md, bench.floor), and on 2 cores every send made while a copy is in flight delays it.
REPORT_DELAY = timedelta(milliseconds=50)


class ChildActor(ActorTypeDispatcher):
    role = "child"

    def __init__(self, *args, **kwargs):
        # An actor's process is forked: what it inherited is shared with its parent until written. A
        # full collection writes every tracked object's header and so copies each page (bench.soak
        # saw ~30 MB more private memory per actor after one). Frozen objects are never collected.
        if multiprocessing.parent_process() is not None:  # not in a test's own process
            gc.freeze()
        super().__init__(*args, **kwargs)
        self.config = None
        self.peers: dict = {}
        self.key = ""
        self.kill_tripped = False
        self.entries_paused = ""  # why opening trades are refused now ("" = they are not)
        self.parent = None
        self._ppid: int | None = None
        self.log = logger.bind(actor=self.role)
        self._reports: list = []
        self.lane = Lane(self, self._on_lane, thespian_send=super().send)
        self._lane_ports: set[int] = set()  # the peers' Thespian ports: sends to these go through the lane
        self._read: list = []  # (msg, sender) the lane handed over in this wake-up, not yet handled

    # ------------------------------------------------------------ dispatch with one error rule

    def receiveMessage(self, msg, sender):
        try:
            rest = self.lane.receive(msg, sender)  # first: the lane's frames and its own messages
        except Exception as e:  # noqa: BLE001 - a lane bug must not stop the actor
            self.log.exception("lane: receive failed: {}", e)
            rest = None
        self.dispatch_read()
        if rest is not None:
            self._handle(rest, sender)
        fds = self.lane.fds() + self.watch_fds()
        return ThespianWatch(fds) if fds else None

    def _on_lane(self, msg, sender) -> None:
        self._read.append((msg, sender))

    def dispatch_read(self) -> None:
        """Handle what the lane read in this wake-up: runs with one batch handler as one call."""
        items, self._read = self._read, []
        i = 0
        while i < len(items):
            batch = self._batch_handler(items[i][0])
            j = i + 1
            if batch is not None:
                while j < len(items) and self._batch_handler(items[j][0]) == batch:
                    j += 1
                self._handle_batch(batch, [m for m, _ in items[i:j]])
            else:
                self._handle(*items[i])
            i = j

    def _batch_handler(self, msg):
        return getattr(self, f"receiveBatch_{type(msg).__name__}", None)

    def _handle(self, msg, sender) -> None:
        batch = self._batch_handler(msg)
        if batch is not None:
            self._handle_batch(batch, [msg])
            return
        try:
            super().receiveMessage(msg, sender)
        except Exception as e:  # noqa: BLE001 - see module docstring
            self.handler_failed(msg, e)

    def _handle_batch(self, handler, msgs: list) -> None:
        try:
            handler(msgs)
        except Exception as e:  # noqa: BLE001 - see module docstring
            self.handler_failed(msgs[0], e)

    def send(self, targetAddr, msg):
        """To a peer through the lane (which falls back to Thespian in order); to anyone else through Thespian."""
        if self._lane_ports and wiring.endpoint(targetAddr) in self._lane_ports:
            self.lane.send(targetAddr, msg)
        else:
            super().send(targetAddr, msg)

    def handler_failed(self, msg, e: Exception) -> None:
        """Log and report a handler's exception (tests' harness re-raises it instead)."""
        self.log.exception("handler for {} failed: {}", type(msg).__name__, e)
        if self.parent is not None and not isinstance(msg, ActorExitRequest):
            if isinstance(msg, Init):
                # Half-initialised is useless: exit, and the supervisor restarts us with backoff.
                self.send(self.myAddress, ActorExitRequest())
            else:
                self.send(self.parent, ChildFailed(role=self.role, reason=f"{type(msg).__name__}: {e}"[:300]))

    def receiveUnrecognizedMessage(self, msg, sender):
        self.log.warning("unexpected message {} from {}", type(msg).__name__, sender)

    # ------------------------------------------------------------ wiring

    def receiveMsg_Init(self, msg: Init, sender):
        self.config = msg.config
        self.peers = dict(msg.peers)
        self.key = msg.key
        self.kill_tripped = msg.kill_switch_tripped
        self.entries_paused = msg.entries_paused
        self.parent = sender
        self._ppid = os.getppid()
        self.log = logger.bind(actor=self.role, key=self.key)
        self._peers_changed()
        self.wakeupAfter(timedelta(seconds=ORPHAN_CHECK_S), payload=ORPHAN_CHECK)
        self.on_init(msg)

    def receiveMsg_Peers(self, msg: Peers, sender):
        self.peers.update(msg.peers)
        self._peers_changed()
        self.on_peers()

    def _peers_changed(self) -> None:
        self._lane_ports = {p for p in map(wiring.endpoint, self.peers.values()) if p is not None}
        self.lane.retain(self.peers.values())  # connections to replaced addresses are closed

    def receiveMsg_Ping(self, msg: Ping, sender):
        self.send(sender, Pong(role=self.role, key=self.key, pid=os.getpid(), nonce=msg.nonce))

    def receiveMsg_KillSwitchChanged(self, msg: KillSwitchChanged, sender):
        self.kill_tripped = msg.tripped
        self.on_kill_switch(msg)

    def receiveMsg_EntriesChanged(self, msg: EntriesChanged, sender):
        self.entries_paused = msg.reason

    def receiveMsg_ReloadConfig(self, msg: ReloadConfig, sender):
        self.config = msg.config
        self.on_reload()

    def receiveMsg_WakeupMessage(self, msg: WakeupMessage, sender):
        if msg.payload == ORPHAN_CHECK:
            self._check_parent()
        elif msg.payload == REPORT:
            self._flush_reports()
        else:
            self.on_wakeup(msg.payload)

    def receiveMsg_ActorExitRequest(self, msg, sender):
        try:
            self.on_exit()
        finally:
            self._flush_reports()
            self._close_lane()

    def _close_lane(self) -> None:
        """What waits to be written goes through Thespian; the inbox is removed."""
        s = self.lane.stats
        if s["sent"] or s["received"] or s["fallback"]:
            self.log.info("lane: sent {} received {} through Thespian {} connects {} overflows {}", s["sent"],
                          s["received"], s["fallback"], s["connects"], s["overflows"])
        self.lane.close()

    def _check_parent(self):
        if self._ppid is not None and os.getppid() != self._ppid:
            self.log.warning("parent process {} is gone; exiting", self._ppid)
            try:
                self.on_exit()
                self._close_lane()
            finally:
                os._exit(0)  # Thespian's own exit path would wait on the dead parent
        self.wakeupAfter(timedelta(seconds=ORPHAN_CHECK_S), payload=ORPHAN_CHECK)

    # ------------------------------------------------------------ helpers and hooks

    def tell(self, role: str, msg) -> bool:
        """Send to a peer by role; False (and a warning) if the peer is not known yet."""
        addr = self.peers.get(role)
        if addr is None:
            self.log.warning("no address for {}; {} not sent", role, type(msg).__name__)
            return False
        self.send(addr, msg)
        return True

    def report(self, msg) -> None:
        """Queue a report for telemetry; they leave together REPORT_DELAY later (off the hot path)."""
        if "telemetry" not in self.peers:
            return
        if not self._reports:
            self.wakeupAfter(REPORT_DELAY, payload=REPORT)
        self._reports.append(msg)

    def _flush_reports(self) -> None:
        items, self._reports = tuple(self._reports), []
        if items and "telemetry" in self.peers:
            self.send(self.peers["telemetry"], Reports(items=items))

    def watch_fds(self) -> list:
        """File descriptors to watch (ThespianWatch); watchers return their wake-up pipe."""
        return []

    def on_init(self, msg: Init) -> None: ...

    def on_peers(self) -> None: ...

    def on_kill_switch(self, msg: KillSwitchChanged) -> None: ...

    def on_reload(self) -> None: ...

    def on_wakeup(self, payload) -> None: ...

    def on_exit(self) -> None: ...
