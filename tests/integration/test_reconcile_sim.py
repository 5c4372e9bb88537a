"""Catalog and Reconciler against polysim (in-process, 127.0.0.1): the real Gamma, CLOB and Data
API clients, the real Risk actor, and a fake paper executor that fills what risk approves.

The actors run in Harnesses (no actor system); `Wire` carries their messages to one another the
way the supervisor's peer map would, and runs each actor's I/O thread results in.
"""
from __future__ import annotations

import select
import time
from decimal import Decimal as D

import pytest
import requests
from thespian.actors import ActorAddress, WatchMessage

from polycopy.actors.catalog import PRELOAD, TICKS, Catalog
from polycopy.actors.reconciler import ROUND, Reconciler
from polycopy.actors.risk import Risk
from polycopy.messages import (ApprovedIntent, CopyIntent, EnsureCoalescer, Market, NeedMarketFacts, OrderOutcome,
                               PositionsReply, PositionsSnapshot)
from polycopy.policy.markets import WINDOW_S
from polycopy.sim.scenario import parse
from polycopy.sim.server import Polysim
from tests.actors.harness import Harness
from tests.conftest import make_config
from tests.integration.test_supervision import free_port

pytestmark = pytest.mark.integration

OURS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BASE = {
    "name": "reconcile", "seed": 5,
    "markets": [{"slug": "will-it-snow", "outcomes": ["Yes", "No"]},
                {"slug": "will-it-rain", "outcomes": ["Yes", "No"]}],
    "accounts": [{"address": OURS, "pusd": "1000"}],
    "feeds": {"rtds_lag_ms": {"orders_matched": 0, "trades": 0}, "data_api_lag_ms": 0, "noise_per_s": 0},
}


def scenario(**extra):
    return parse({**BASE, **extra})


class FakeExecutor:
    """Fills every approved intent in full at the source price; answers PositionsSnapshot."""

    def __init__(self):
        self.positions: dict[str, D] = {}
        self.approved: list[ApprovedIntent] = []

    def handle(self, msg):
        if isinstance(msg, PositionsSnapshot):
            return "rec", PositionsReply(request_id=msg.request_id, positions=tuple(self.positions.items()),
                                         mode="paper")
        if isinstance(msg, ApprovedIntent):
            self.approved.append(msg)
            it, sign = msg.intent, (1 if msg.intent.side == "BUY" else -1)
            self.positions[it.token_id] = self.positions.get(it.token_id, D(0)) + sign * msg.size
            return "risk", OrderOutcome(intent_id=it.intent_id, order_id="o-" + it.intent_id, status="filled",
                                        filled_size=msg.size, filled_notional_usd=msg.size * it.source_price,
                                        token_id=it.token_id, condition_id=it.condition_id, side=it.side)
        return None


class Wire:
    """Routes messages between harnessed actors by the peer names they were given."""

    def __init__(self, actors: dict, exec_: FakeExecutor):
        self.actors, self.exec = actors, exec_
        self.log: list[tuple[str, str, object]] = []  # (from, to, msg)

    def _pump_io(self) -> bool:
        fds = {h.actor.jobs.fd: h for h in self.actors.values() if getattr(h.actor, "jobs", None) is not None}
        ready, _, _ = select.select(list(fds), [], [], 0.02)
        for fd in ready:
            fds[fd].deliver(WatchMessage([fd]))
        return bool(ready)

    def _route(self) -> bool:
        moved = False
        for name, h in self.actors.items():
            out, h.ref.sent = h.ref.sent, []
            for target, msg in out:
                to = str(target.addressDetails) if hasattr(target, "addressDetails") else str(target)
                self.log.append((name, to, msg))
                moved = True
                if to == "exec":
                    reply = self.exec.handle(msg)
                    if reply:
                        self.actors[reply[0]].deliver(reply[1], ActorAddress("exec"))
                elif to in self.actors:
                    self.actors[to].deliver(msg, ActorAddress(name))
        return moved

    def settle(self, done, timeout=10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = self._route() | self._pump_io()
            if not busy and done():
                return
        raise AssertionError("the actors did not settle")

    def sent(self, to: str, kind) -> list:
        return [m for _, t, m in self.log if t == to and isinstance(m, kind)]


class SkewClock:
    """Wall clock plus a skew the test moves forward, so rounds can be an interval apart."""

    skew = 0.0

    @classmethod
    def now(cls) -> float:
        return time.time() + cls.skew


@pytest.fixture
def actors(tmp_path):
    made = []
    yield made
    for h in made:
        h.actor.on_exit()


def build(sim, tmp_path, made, **reconcile):
    ep = sim.endpoints
    venue = {"gamma_url": ep["gamma"], "clob_url": ep["clob"], "data_api_url": ep["data_api"]}
    cfg = make_config(tmp_path, venue=venue,
                      execution={"mode": "paper", "max_slippage_ticks": 0},  # the caps arithmetic below: 120 bps only
                      reconcile={"reconcile_interval_s": 1, "settle_s": 0, **reconcile})

    class Rec(Reconciler):
        clock = staticmethod(SkewClock.now)

    SkewClock.skew = 0.0
    peers = {"risk": "risk", "executor": "exec", "catalog": "cat", "intake": "intake", "reconciler": "rec"}
    hs = {"rec": Harness(Rec, config=cfg, peers=peers), "cat": Harness(Catalog, config=cfg, peers=peers),
          "risk": Harness(Risk, config=cfg, peers=peers)}
    made.extend(hs.values())
    return Wire(hs, FakeExecutor())


def round_(wire: Wire) -> list[CopyIntent]:
    """One reconcile round, with everything it causes carried through; returns its intents."""
    before = len(wire.sent("risk", CopyIntent))
    SkewClock.skew += 1.0  # an interval passes
    rec = wire.actors["rec"]
    rec.fire_wakeups(lambda p: p == ROUND)
    wire.settle(lambda: rec.actor.round is None)
    return wire.sent("risk", CopyIntent)[before:]


def tokens(sim, slug):
    return sim.catalog.by_slug[slug].market.tokens


def test_hidden_fill_is_corrected_in_the_next_round_and_never_past_the_caps(tmp_path, actors):
    with Polysim(scenario()) as sim:
        wire = build(sim, tmp_path, actors)
        yes = tokens(sim, "will-it-snow")[0]
        assert round_(wire) == []  # baseline: the source holds nothing
        # A source fill no feed of ours sees (no watcher runs here): only /positions knows it.
        r = requests.post(sim.endpoints["control"] + "/fills", timeout=5,
                          json={"market": "will-it-snow", "outcome": "Yes", "price": "0.5", "size": "1000"})
        r.raise_for_status()
        [first] = round_(wire)
        assert (first.token_id, first.side, first.reason, first.opening) == (yes, "BUY", "reconcile", True)
        assert first.size * D("0.50") <= D("25")  # bounded by max_correction_notional_usd (0.506 is under a tick)
        assert [a.intent.intent_id for a in wire.exec.approved] == [first.intent_id]
        assert wire.exec.positions[yes] == first.size
        # Keep reconciling: risk's per-market cap stops the top-ups; nothing ever passes it.
        for _ in range(12):
            round_(wire)
        spent = sum(a.size * a.intent.source_price for a in wire.exec.approved)
        reserved = wire.actors["risk"].actor.book.market[sim.catalog.by_slug["will-it-snow"].market.condition_id]
        assert reserved <= D("150") and spent <= D("150")
        assert len(wire.exec.approved) >= 5  # the cap, not a lack of rounds, is what stopped it
        assert len(wire.sent("risk", CopyIntent)) > len(wire.exec.approved)  # later corrections were refused
        assert wire.exec.positions[yes] < D("1000")
        assert wire.actors["rec"].actor.counts["correction:missed_fill"] >= 6


def test_source_merge_is_mirrored(tmp_path, actors):
    sc = scenario(fills=[{"at_s": 0.1, "market": "will-it-rain", "outcome": "Yes", "price": "0.5", "size": "20"},
                         {"at_s": 0.1, "market": "will-it-rain", "outcome": "No", "price": "0.5", "size": "20"}],
                  activity=[{"at_s": 1.5, "type": "MERGE", "market": "will-it-rain", "size": "20"}])
    with Polysim(sc) as sim:
        yes, no = tokens(sim, "will-it-rain")
        wire = build(sim, tmp_path, actors)
        wire.exec.positions = {yes: D("20"), no: D("20")}  # we copied both buys
        deadline = time.monotonic() + 5
        while sim.clock.t() < 0.3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert round_(wire) == []  # in line: 20/20 each, no market lookup needed
        assert wire.sent("cat", NeedMarketFacts) == []
        while sim.clock.t() < 1.7 and time.monotonic() < deadline + 5:
            time.sleep(0.02)
        intents = round_(wire)  # the source merged its 20 pairs: /positions shows nothing left
        assert sorted((i.token_id, i.side, i.size, i.opening) for i in intents) == sorted(
            [(yes, "SELL", D("20.00"), False), (no, "SELL", D("20.00"), False)])
        assert wire.actors["rec"].actor.counts["correction:merge"] == 2
        # The round asked the catalog for the market's facts and used them (end time, outcomes of the merge).
        assert {m.key for m in wire.sent("cat", NeedMarketFacts)} == {yes, no}
        assert wire.sent("rec", Market)
        assert wire.exec.positions == {yes: D("0.00"), no: D("0.00")}
        assert round_(wire) == []  # and then nothing more to do


def test_tick_size_change_reaches_the_executor(tmp_path, actors):
    with Polysim(scenario()) as sim:
        wire = build(sim, tmp_path, actors)
        cat = wire.actors["cat"]
        yes, no = tokens(sim, "will-it-snow")
        cat.deliver(NeedMarketFacts(key=yes), ActorAddress("intake"))
        wire.settle(lambda: yes in cat.actor.facts and not cat.actor.inflight)
        assert wire.sent("exec", Market)[-1].tick_size == D("0.01")
        sim.call(sim.venue.set_tick_size, yes, D("0.001"))
        cat.fire_wakeups(lambda p: p == TICKS)
        wire.settle(lambda: not cat.actor.inflight)
        new = wire.sent("exec", Market)[-1]
        assert new.tick_size == D("0.001") and set(new.token_ids) == {yes, no}
        assert wire.sent("intake", Market)[-1].tick_size == D("0.001")


def test_next_window_is_preloaded_from_gamma_with_its_coalescers(tmp_path, actors):
    with Polysim(scenario(series=[{"asset": "btc", "title": "Bitcoin", "lookahead_windows": 2}])) as sim:
        wire = build(sim, tmp_path, actors)
        cat = wire.actors["cat"]
        now = int(time.time())
        current = f"btc-updown-15m-{now - now % WINDOW_S}"
        nxt = f"btc-updown-15m-{now - now % WINDOW_S + WINDOW_S}"
        t_cur = tokens(sim, current)[0]
        cat.deliver(NeedMarketFacts(key=t_cur, slug=current), ActorAddress("intake"))
        wire.settle(lambda: not cat.actor.inflight and cat.actor.jobs.queued == 0)
        pushed = {m.slug: m for m in wire.sent("intake", Market)}
        assert nxt in pushed and pushed[nxt].end_ts == now - now % WINDOW_S + 2 * WINDOW_S
        ensured = [m for _, to, m in wire.log if isinstance(m, EnsureCoalescer)]
        assert set(tokens(sim, nxt)) <= {e.key for e in ensured}
        cat.fire_wakeups(lambda p: p == PRELOAD)
        wire.settle(lambda: not cat.actor.inflight)
        assert len([m for _, to, m in wire.log if isinstance(m, EnsureCoalescer)]) == len(ensured)  # no repeats


def test_catalog_in_a_real_actor_system(tmp_path):
    """The catalog's I/O thread and ThespianWatch in a real multiprocTCPBase process, against polysim."""
    from thespian.actors import ActorExitRequest, ActorSystem

    from polycopy.actors.system import log_defs  # importing it pins Thespian to 127.0.0.1
    from polycopy.messages import Init

    with Polysim(scenario()) as sim:
        ep = sim.endpoints
        cfg = make_config(tmp_path, venue={"gamma_url": ep["gamma"], "clob_url": ep["clob"]})
        yes, no = tokens(sim, "will-it-snow")
        asys = ActorSystem("multiprocTCPBase", {"Admin Port": free_port()}, transientUnique=True, logDefs=log_defs())
        try:
            cat = asys.createActor(Catalog)
            asys.tell(cat, Init(config=cfg, peers={}))
            reply = asys.ask(cat, NeedMarketFacts(key=no), 10.0)
            assert isinstance(reply, Market) and reply.token_ids == (yes, no)
            assert reply.end_ts == sim.catalog.by_slug["will-it-snow"].market.end_ts
            again = asys.ask(cat, NeedMarketFacts(key=yes), 5.0)  # from memory
            assert again == reply
            asys.tell(cat, ActorExitRequest())
        finally:
            asys.shutdown()
