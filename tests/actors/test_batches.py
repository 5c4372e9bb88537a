"""Bursts as batches (issue 19): what the lane reads in one wake-up is handled together.

ChildActor hands a run of messages with one `receiveBatch_<Type>` handler to one call, in arrival
order; risk decides a read's intents in order, commits their reservations in one transaction and
sends one ApprovedBatch; the executor records the intents in one commit and journals the signed
orders in one more, each before its own POST; the coalescer adds a read's batches as one and
sends its intents as one message; intake stores a read's fills in one transaction."""
from __future__ import annotations

import json
from decimal import Decimal as D

from polycopy.actors.base import ChildActor
from polycopy.actors.coalescer import Coalescer
from polycopy.messages import (ApprovedBatch, ApprovedIntent, ChildFailed, CopyIntent, FillBatch, IntentBatch,
                               OrderOutcome, RiskDecision)
from polycopy.store import journal
from polycopy.store.db import open_db
from tests.actors import test_coalescer as tc
from tests.actors import test_executor as tx
from tests.actors import test_intake as ti
from tests.actors.harness import Harness
from tests.actors.test_risk import Clock, NOW, config, intent, make_risk


class Probe(ChildActor):
    role = "probe"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.calls: list = []

    def receiveBatch_CopyIntent(self, msgs):
        ids = [i.intent_id for m in msgs for i in (m.intents if isinstance(m, IntentBatch) else (m,))]
        if "boom" in ids:
            raise RuntimeError("boom")
        self.calls.append(("batch", ids))

    receiveBatch_IntentBatch = receiveBatch_CopyIntent

    def receiveMsg_RiskDecision(self, msg, sender):
        self.calls.append(("one", msg.intent_id))


def rd(iid):
    return RiskDecision(intent_id=iid, decision="dropped", reason="netted_out")


def commits(db) -> list:
    """Every statement the connection runs from now on (COMMIT included)."""
    seen: list = []
    db.conn.set_trace_callback(seen.append)
    return seen


def test_a_read_is_handled_in_runs_of_one_batch_handler_in_arrival_order():
    h = Harness(Probe)
    h.deliver_read([intent("a"), intent("b"), rd("c"), intent("d"), IntentBatch(intents=(intent("e"),))])
    # CopyIntent and IntentBatch share a handler: one run
    assert h.actor.calls == [("batch", ["a", "b"]), ("one", "c"), ("batch", ["d", "e"])]
    h.actor.calls.clear()
    h.deliver(intent("f"))  # from Thespian, one message: a batch of one
    assert h.actor.calls == [("batch", ["f"])]


def test_a_failing_batch_is_reported_once_and_the_rest_of_the_read_is_handled():
    h = Harness(Probe, raise_errors=False)
    h.deliver_read([intent("boom"), intent("x"), rd("after")])
    (failed,) = h.sent_to("parent", ChildFailed)
    assert "boom" in failed.reason
    assert h.actor.calls == [("one", "after")]


# ---------------------------------------------------------------- risk


def test_risk_decides_a_read_in_order_with_one_commit_before_one_approved_batch(tmp_path):
    cfg = config(tmp_path, sizing={"max_notional_per_market_usd": 12})
    h = make_risk(cfg, Clock(NOW))
    stmts = commits(h.actor.db)
    h.deliver_read([intent("a", size="10"), intent("b", size="10"), intent("c", size="20")])
    # a: 5.06 reserved; b: 5.06 more (10.12 <= 12); c sees both: 1.88 left is under 5 shares
    verdicts = [(d.intent_id, d.decision) for d in h.sent_to("telemetry", RiskDecision)]
    assert verdicts == [("a", "approved"), ("b", "approved"), ("c", "rejected")]
    (batch,) = h.raw_sent_to("executor")
    assert isinstance(batch, ApprovedBatch) and [a.intent_id for a in batch.items] == ["a", "b"]
    writes = [s for s in stmts if s.startswith(("INSERT OR REPLACE INTO exposure", "COMMIT"))]
    assert writes[:3] == [writes[0], writes[1], "COMMIT"] and writes[0].startswith("INSERT OR REPLACE")
    assert stmts.count("COMMIT") == 2  # the reservations, then the three verdicts
    rows = {r["intent_id"] for r in open_db(cfg.store.path)["exposure"].rows}
    assert rows == {"a", "b"}


def test_risk_sends_a_single_approval_as_itself(tmp_path):
    h = make_risk(config(tmp_path), Clock(NOW))
    h.deliver_read([intent("a"), intent("b", end=NOW + 10)])  # b: near expiry
    assert [type(m) for m in h.raw_sent_to("executor")] == [ApprovedIntent]


def test_risk_settles_a_read_of_outcomes_in_one_commit(tmp_path):
    cfg = config(tmp_path)
    h = make_risk(cfg, Clock(NOW))
    h.deliver_read([intent("a"), intent("b")])
    stmts = commits(h.actor.db)
    h.deliver_read([OrderOutcome(intent_id=i, order_id="0x" + i, status="filled", filled_size=D(10),
                                 filled_notional_usd=D("5")) for i in ("a", "b")])
    assert stmts.count("COMMIT") == 1
    db = open_db(cfg.store.path)
    assert {r["intent_id"]: (r["state"], r["filled_usd"]) for r in db["exposure"].rows} == {
        "a": ("settled", "5"), "b": ("settled", "5")}


# ---------------------------------------------------------------- executor


def test_executor_places_a_read_with_two_commits_each_order_journaled_before_its_post(tmp_path):
    h, rest = tx.live(tmp_path)
    h.deliver(tx.FACTS)
    stmts = commits(h.actor.db)
    at_post = []  # (statements run so far, the order's journaled `posts`) at each POST
    post = rest.post_order

    def checked_post(body):
        tx._index_ids(h, rest)
        oid = rest.ids[json.dumps(json.loads(body)["order"], separators=(",", ":"))]
        at_post.append((len(stmts), journal.get_order(open_db(h.actor.config.store.path), oid)["posts"]))
        return post(body)

    rest.post_order = checked_post
    h.deliver(ApprovedBatch(items=tuple(tx.approved(iid=f"i{n}") for n in range(3))))
    assert len(rest.posts) == 3 and [p for _, p in at_post] == [1, 1, 1]  # committed, send counted, before each POST
    before = stmts[:at_post[0][0]]
    assert before.count("COMMIT") == 2  # the three intents; the three signed orders
    assert sum(s.startswith("INSERT INTO exec_orders") for s in before) == 3
    assert "COMMIT" not in stmts[at_post[0][0]:at_post[-1][0]]  # nothing more is committed between the posts
    assert sorted(o.intent_id for o in h.sent_to("risk", OrderOutcome)) == ["i0", "i1", "i2"]
    assert {o.status for o in h.sent_to("risk", OrderOutcome)} == {"filled"}


def test_executor_batch_with_a_redelivery_and_a_local_rejection_posts_only_the_new_good_one(tmp_path):
    h, rest = tx.live(tmp_path)
    h.deliver(tx.FACTS)
    h.deliver(tx.approved(iid="old"))
    h.clear()
    h.deliver_read([tx.approved(iid="old"), tx.approved(iid="small", size="3"), tx.approved(iid="new")])
    h.deliver(tx.WatchMessage([h.actor.posts.fd]))
    assert len(rest.posts) == 2  # "old" once before, "new" now
    outs = {o.intent_id: (o.status, o.reason) for o in h.sent_to("risk", OrderOutcome)}
    assert outs == {"small": ("not_sent", "below_min_size"), "new": ("filled", "matched")}


# ---------------------------------------------------------------- coalescer and intake


def test_coalescer_adds_a_read_as_one_burst_and_sends_its_intents_as_one_message(tmp_path):
    h = tc.init(Coalescer, tc.config(tmp_path), tc.Clock(0), {"risk": "risk", "telemetry": "telemetry"}, key="tok")
    h.deliver_read([FillBatch(market=tc.MARKET, fills=(tc.fill(1, 10),)),
                    FillBatch(market=tc.MARKET, fills=(tc.fill(2, 4), tc.fill(1, 10)))])  # fill 1 sent twice
    (lead,) = h.raw_sent_to("risk")
    assert isinstance(lead, CopyIntent) and lead.reason == "leading" and lead.size == D("14")  # both batches lead

    fbf = tc.init(Coalescer, tc.config(tmp_path, copy={"copy_mode": "fill_by_fill"}), tc.Clock(0),
                  {"risk": "risk", "telemetry": "telemetry"}, key="tok")
    fbf.deliver(FillBatch(market=tc.MARKET, fills=tuple(tc.fill(i, 6) for i in range(3))))
    (batch,) = fbf.raw_sent_to("risk")
    assert isinstance(batch, IntentBatch) and [i.fill_keys for i in batch.intents] == [
        (tc.fill(i, 6).key,) for i in range(3)]


def test_intake_stores_a_read_in_one_transaction_and_routes_one_batch_per_token(tmp_path):
    h = ti.start(tmp_path, peers={"coalescer:11": "c11", "coalescer:22": "c22", "telemetry": "tel"})
    stmts = commits(h.actor.db)
    h.deliver_read([FillBatch(fills=(ti.fill("0xa"), ti.fill("0xb", token="22"))),
                    FillBatch(fills=(ti.fill("0xc"), ti.fill("0xa", feed="backstop")))])
    assert [[f.key for f in b.fills] for b in h.sent_to("c11", FillBatch)] == [
        ["0xa|11|BUY|0.5|5|0", "0xc|11|BUY|0.5|5|0"]]
    assert len(h.sent_to("c22", FillBatch)) == 1
    assert stmts.count("COMMIT") == 1


# ---------------------------------------------------------------- which way a message goes


class LaneRecorder:
    """Stands in for the actor's Lane: records what would go on it."""

    def __init__(self):
        self.sent, self.retained, self.closed = [], [], False
        self.stats = {"sent": 0, "received": 0, "fallback": 0, "connects": 0, "overflows": 0}

    def receive(self, msg, sender):
        return msg

    def send(self, addr, msg):
        self.sent.append((addr, msg))

    def fds(self):
        return []

    def retain(self, addrs):
        self.retained.append(list(addrs))

    def close(self):
        self.closed = True


def at(port):
    from types import SimpleNamespace

    from thespian.actors import ActorAddress
    return ActorAddress(SimpleNamespace(sockname=("127.0.0.1", port)))


def test_peers_are_sent_to_on_the_lane_everyone_else_through_thespian():
    from thespian.actors import ActorExitRequest

    from polycopy.messages import Init, Peers, Ping

    h = Harness(Probe, init=False)
    lane = h.actor.lane = LaneRecorder()
    h.deliver(Init(config=None, peers={"risk": at(5001)}), at(5000))  # the parent: the supervisor
    h.actor.send(at(5001), intent("a"))
    h.deliver(Ping(nonce=1), at(5000))  # the Pong goes back to the supervisor
    assert [(a, type(m).__name__) for a, m in lane.sent] == [(at(5001), "CopyIntent")]
    assert [type(m).__name__ for _, m in h.ref.sent] == ["Pong"]
    h.deliver(Peers(peers={"risk": at(5002)}), at(5000))  # risk restarted: a new address
    assert lane.retained[-1] == [at(5002)]
    h.actor.send(at(5001), intent("b"))  # the old address is no peer any more
    assert len(lane.sent) == 1 and type(h.ref.sent[-1][1]).__name__ == "CopyIntent"
    h.deliver(ActorExitRequest(), at(5000))
    assert lane.closed
