"""Drive one actor directly, with no actor system (THESPIAN.md §7, style 1).

    h = Harness(RiskActor, config=cfg, peers={"executor": "executor"})
    h.deliver(SomeMessage(...))
    assert h.sent_to("executor") == [...]
Time is driven by calling `h.fire_wakeups()`. Reports to telemetry (ChildActor.report) count as
sent to it as soon as they are queued: `sent`/`sent_to` list the items of every `Reports` batch
and of the batch still waiting for its flush, and the items of the hot path's batches
(`IntentBatch`, `ApprovedBatch`); `raw_sent_to` lists the messages as they were sent.

`h.deliver_read([msgs])` hands the actor several messages as the lane does when it read them in
one wake-up (ChildActor.dispatch_read: runs of one batch handler in one call).

A handler that raises fails the test: the exception the base class would log and report to the
supervisor is raised from `deliver` (`Harness(..., raise_errors=False)` for the tests of that
reporting itself).
"""
from __future__ import annotations

from thespian.actors import ActorAddress, WakeupMessage

from polycopy.messages import ApprovedBatch, Init, IntentBatch, Reports

BATCHES = {Reports: "items", IntentBatch: "intents", ApprovedBatch: "items"}  # listed item by item


class FakeRef:
    def __init__(self, name: str):
        self.address = ActorAddress(name)
        self.globalName = None
        self.sent: list[tuple[object, object]] = []
        self.wakeups: list[tuple[object, object]] = []
        self.created: list[tuple[object, str | None]] = []

    def actor_send(self, target, msg):
        self.sent.append((target, msg))

    def wakeupAfter(self, period, payload=None):
        self.wakeups.append((period, payload))

    def createActor(self, cls, targetActorRequirements=None, globalName=None, sourceHash=None):
        addr = ActorAddress(f"child-{len(self.created)}")
        self.created.append((cls, globalName))
        return addr

    def handleDeadLetters(self, *a, **kw):
        pass


def _reraise(msg, e):
    raise e


class Harness:
    def __init__(self, actor_cls, *, config=None, peers=None, key="", init=True, kill_switch_tripped=False,
                 raise_errors=True):
        self.actor = actor_cls()
        self.ref = FakeRef(actor_cls.__name__)
        self.actor._myRef = self.ref
        if raise_errors:
            self.actor.handler_failed = _reraise
        self.parent = ActorAddress("parent")
        if init:
            peers = {role: (a if isinstance(a, ActorAddress) else ActorAddress(a)) for role, a in (peers or {}).items()}
            self.deliver(Init(config=config, peers=peers, key=key, kill_switch_tripped=kill_switch_tripped), self.parent)

    def deliver(self, msg, sender=None):
        return self.actor.receiveMessage(msg, sender or ActorAddress("tester"))

    def deliver_read(self, msgs, sender=None):
        """Messages the lane read in one wake-up, handled together (one sender for all)."""
        sender = sender or ActorAddress("tester")
        self.actor._read.extend((m, sender) for m in msgs)
        self.actor.dispatch_read()

    def _all_sent(self) -> list:
        out = []
        for t, m in self.ref.sent:
            field = BATCHES.get(type(m))
            out.extend((t, item) for item in getattr(m, field)) if field else out.append((t, m))
        tel = self.actor.peers.get("telemetry")
        out.extend((tel, item) for item in getattr(self.actor, "_reports", ()))
        return out

    def sent(self, msg_type=None):
        return [m for _, m in self._all_sent() if msg_type is None or isinstance(m, msg_type)]

    def sent_to(self, target, msg_type=None):
        """Messages sent to `target`: a peer name given at construction, or an ActorAddress."""
        want = target if isinstance(target, ActorAddress) else ActorAddress(target)
        return [m for t, m in self._all_sent() if t == want and (msg_type is None or isinstance(m, msg_type))]

    def raw_sent_to(self, target, msg_type=None):
        """As `sent_to`, batches left whole."""
        want = target if isinstance(target, ActorAddress) else ActorAddress(target)
        return [m for t, m in self.ref.sent if t == want and (msg_type is None or isinstance(m, msg_type))]

    def clear(self):
        self.ref.sent.clear()
        self.actor._reports = []

    def fire_wakeups(self, payload_filter=None):
        """Deliver every pending wakeup (optionally only those whose payload matches)."""
        pending, self.ref.wakeups = self.ref.wakeups, []
        for period, payload in pending:
            if payload_filter is None or payload_filter(payload):
                self.deliver(WakeupMessage(period, payload))
            else:
                self.ref.wakeups.append((period, payload))
