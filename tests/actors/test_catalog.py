"""MarketCatalog driven through the Harness with its real I/O thread and a fake markets API."""
from __future__ import annotations

import select
import threading
import time
from decimal import Decimal

from thespian.actors import ActorAddress, WatchMessage

from polycopy.actors.catalog import PRELOAD, RETRY, TICKS, Catalog
from polycopy.actors.intake import Intake
from polycopy.errors import TemporaryError
from polycopy.messages import EnsureCoalescer, FillBatch, Market, NeedMarketFacts, Peers, SourceFill
from tests.actors.harness import Harness
from tests.conftest import make_config

NOW = 1_787_102_100 + 200  # 200 s into the btc window starting 1787102100
W0, W1 = 1_787_102_100, 1_787_102_100 + 900
CONSUMERS = {"executor": "exec", "intake": "intake", "reconciler": "rec"}


def facts(slug: str, tick="0.01") -> Market:
    start = int(slug.rsplit("-", 1)[1]) if "-updown-15m-" in slug else NOW
    return Market(condition_id="0x" + slug, token_ids=(slug + ":up", slug + ":down"), outcomes=("Up", "Down"),
                       end_ts=start + 900, tick_size=Decimal(tick), min_order_size=Decimal("5"), neg_risk=False,
                       slug=slug)


class FakeApi:
    """Markets by slug; a token resolves to the market whose tokens contain it."""

    def __init__(self, markets=()):
        self.markets = {m.slug: m for m in markets}
        self.ticks: dict[str, Decimal] = {}
        self.calls: list[tuple] = []
        self.fail: dict[str, Exception] = {}  # method -> error to raise once
        self.lock = threading.Lock()

    def _call(self, name, arg):
        with self.lock:
            self.calls.append((name, arg))
            err = self.fail.pop(name, None)
        if err:
            raise err

    def market_by_token(self, token):
        self._call("token", token)
        return next((m for m in self.markets.values() if token in m.token_ids), None)

    def market_by_slug(self, slug):
        self._call("slug", slug)
        return self.markets.get(slug)

    def tick_size(self, token):
        self._call("tick", token)
        m = next((m for m in self.markets.values() if token in m.token_ids), None)
        return self.ticks.get(m.slug, m.tick_size) if m else None


def start(tmp_path, api, peers=CONSUMERS):
    class TestCatalog(Catalog):
        clock = staticmethod(lambda: NOW)

        def make_api(self):
            return api

    h = Harness(TestCatalog, config=make_config(tmp_path), peers=peers)
    return h


def pump(h, cond, timeout=5.0):
    """Deliver WatchMessages as the I/O thread finishes jobs, until cond() or the deadline."""
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        ready, _, _ = select.select([h.actor.jobs.fd], [], [], 0.05)
        if ready:
            h.deliver(WatchMessage(ready))
    return cond()


def idle(h):
    return pump(h, lambda: not h.actor.inflight and h.actor.jobs.queued == 0)


def test_unknown_token_is_fetched_and_pushed_to_every_consumer(tmp_path, made):
    m = facts("will-it-rain")
    api = FakeApi([m])
    h = start(tmp_path, api)
    made.append(h)
    h.deliver(NeedMarketFacts(key=m.token_ids[1], condition_id=m.condition_id), ActorAddress("someone"))
    assert pump(h, lambda: h.sent_to("exec", Market))
    for addr in CONSUMERS.values():
        assert h.sent_to(addr, Market) == [m]
    assert h.sent_to("someone", Market) == [m]  # an asker outside the consumers gets its answer
    h.clear()
    h.deliver(NeedMarketFacts(key=m.token_ids[0]), ActorAddress("someone"))
    assert h.sent_to("someone", Market) == [m]  # from memory: no second lookup
    assert [c for c in api.calls if c[0] == "token"] == [("token", m.token_ids[1])]


def test_gamma_trouble_is_retried_on_a_timer_and_the_facts_still_arrive(tmp_path, made):
    m = facts("late-market")
    api = FakeApi([])
    api.fail["token"] = TemporaryError("gamma answered 503", retry_after_s=2.0)
    h = start(tmp_path, api)
    made.append(h)
    h.deliver(NeedMarketFacts(key=m.token_ids[0]))
    assert idle(h)
    retries = [(p, pl) for p, pl in h.ref.wakeups if isinstance(pl, tuple) and pl[0] == RETRY]
    assert [p.total_seconds() for p, _ in retries] == [2.0]  # Retry-After honoured
    h.fire_wakeups(lambda p: isinstance(p, tuple) and p[0] == RETRY)
    assert idle(h)  # Gamma does not know it yet: another retry, nothing pushed, nothing dropped
    assert not h.sent(Market) and any(isinstance(p, tuple) and p[0] == RETRY for _, p in h.ref.wakeups)
    api.markets[m.slug] = m  # now it does
    h.fire_wakeups(lambda p: isinstance(p, tuple) and p[0] == RETRY)
    assert pump(h, lambda: h.sent_to("intake", Market))
    assert h.sent_to("intake", Market) == [m]


def test_upcoming_windows_are_preloaded_with_their_coalescers(tmp_path, made):
    now_m, next_m = facts(f"btc-updown-15m-{W0}"), facts(f"btc-updown-15m-{W1}")
    api = FakeApi([now_m, next_m])
    h = start(tmp_path, api)
    made.append(h)
    # The source trades the current btc window: the catalog learns the asset from the slug.
    h.deliver(NeedMarketFacts(key=now_m.token_ids[0], condition_id=now_m.condition_id, slug=now_m.slug))
    assert idle(h)
    assert ("slug", next_m.slug) in api.calls
    assert next_m in h.sent_to("exec", Market) and next_m in h.sent_to("intake", Market)
    ensured = h.sent_to(h.parent, EnsureCoalescer)
    assert {e.key for e in ensured} >= set(next_m.token_ids)
    e = next(e for e in ensured if e.key == next_m.token_ids[0])
    assert (e.condition_id, e.end_ts) == (next_m.condition_id, W1 + 900)
    # The coalescers come up: their markets reach them with the fills (intake), not from here.
    h.clear()
    h.deliver(Peers(peers={f"coalescer:{t}": ActorAddress(f"c-{t}") for t in next_m.token_ids}))
    assert h.sent(Market) == []
    # The timer asks again only for windows it does not have yet.
    api.calls.clear()
    h.fire_wakeups(lambda p: p == PRELOAD)
    assert idle(h)
    assert [c for c in api.calls if c[0] == "slug"] == []


def test_tick_size_change_is_pushed_to_the_executor(tmp_path, made):
    m = facts(f"btc-updown-15m-{W0}")
    api = FakeApi([m])
    h = start(tmp_path, api)
    made.append(h)
    h.deliver(NeedMarketFacts(key=m.token_ids[0]))
    assert pump(h, lambda: h.sent_to("exec", Market))
    h.clear()
    h.fire_wakeups(lambda p: p == TICKS)
    assert idle(h)
    assert h.sent(Market) == []  # unchanged: nothing pushed
    api.ticks[m.slug] = Decimal("0.001")
    h.fire_wakeups(lambda p: p == TICKS)
    assert pump(h, lambda: h.sent_to("exec", Market))
    new = h.sent_to("exec", Market)[-1]
    assert new.tick_size == Decimal("0.001") and new.token_ids == m.token_ids and new.end_ts == m.end_ts
    assert h.sent_to("intake", Market)[-1].tick_size == Decimal("0.001")
    h.deliver(NeedMarketFacts(key=m.token_ids[1]), ActorAddress("late"))
    assert h.sent_to("late", Market)[0].tick_size == Decimal("0.001")


def test_restarted_consumer_gets_everything_again(tmp_path, made):
    m1, m2 = facts("a-market"), facts("b-market")
    h = start(tmp_path, FakeApi([m1, m2]))
    made.append(h)
    h.deliver(NeedMarketFacts(key=m1.token_ids[0]))
    h.deliver(NeedMarketFacts(key=m2.token_ids[0]))
    assert pump(h, lambda: len(h.sent_to("exec", Market)) == 2)
    h.clear()
    h.deliver(Peers(peers={"executor": ActorAddress("exec-2")}))
    assert sorted(f.slug for f in h.sent_to("exec-2", Market)) == ["a-market", "b-market"]
    assert h.sent_to("intake", Market) == []


def test_first_fill_of_a_preannounced_window_finds_facts_and_coalescer(tmp_path, made):
    """Catalog then Intake: the messages the catalog sends ahead make the first fill route at once."""
    now_m, next_m = facts(f"btc-updown-15m-{W0}"), facts(f"btc-updown-15m-{W1}")
    cat = start(tmp_path, FakeApi([now_m, next_m]))
    made.append(cat)
    cat.deliver(NeedMarketFacts(key=now_m.token_ids[0], slug=now_m.slug))
    assert idle(cat)
    ensure = [e for e in cat.sent_to(cat.parent, EnsureCoalescer) if e.key in next_m.token_ids]
    assert len(ensure) == 2
    # The supervisor creates the coalescers and broadcasts Peers; the catalog's facts reach intake.
    token = next_m.token_ids[0]
    peers = {"catalog": "cat", f"coalescer:{token}": "c-up"}
    intake = Harness(Intake, config=make_config(tmp_path), peers=peers)
    for msg in cat.sent_to("intake", Market):
        intake.deliver(msg)
    fill = SourceFill(key=f"0xt|{token}|BUY|0.5|10|0", source_wallet="0xw", condition_id=next_m.condition_id,
                      token_id=token, outcome="Up", side="BUY", price=Decimal("0.5"), size=Decimal("10"),
                      tx_hash="0xt", source_ts_ms=int(time.time() * 1000), feed="rtds",
                      recv_mono_ns=time.monotonic_ns(), slug=next_m.slug)
    t0 = time.perf_counter_ns()
    intake.deliver(FillBatch(fills=(fill,)))
    routed_ms = (time.perf_counter_ns() - t0) / 1e6
    assert [f.key for b in intake.sent_to("c-up", FillBatch) for f in b.fills] == [fill.key]
    assert intake.sent(EnsureCoalescer) == [] and intake.sent(NeedMarketFacts) == []  # nothing to wait for
    assert intake.actor.router.markets[token] == next_m
    assert intake.sent_to("c-up", FillBatch)[0].market == next_m
    print(f"first fill routed by intake in {routed_ms:.2f} ms with no lookup and no process start")
    intake.actor.on_exit()


def test_io_jobs_run_urgent_lookups_first():
    from polycopy.actors.io_jobs import JobThread

    jobs = JobThread("t-io")
    jobs.start()
    gate, started = threading.Event(), threading.Event()

    def busy():
        started.set()
        return gate.wait(5)

    try:
        jobs.submit("busy", busy)
        assert started.wait(5)  # the worker is inside a slow call while the others queue up
        jobs.submit("preload", lambda: "p")
        jobs.submit("fill-waits", lambda: "u", urgent=True)
        jobs.submit("boom", lambda: 1 / 0)
        gate.set()
        done = []
        deadline = time.monotonic() + 5
        while len(done) < 4 and time.monotonic() < deadline:
            if select.select([jobs.fd], [], [], 0.05)[0]:
                done.extend(jobs.drain())
        assert [tag for tag, _, _ in done] == ["busy", "fill-waits", "preload", "boom"]
        assert isinstance(done[-1][2], ZeroDivisionError) and jobs.queued == 0
    finally:
        jobs.close()


def test_a_restarted_catalog_preloads_the_assets_it_learned(tmp_path, made):
    now_m, next_m = facts(f"btc-updown-15m-{W0}"), facts(f"btc-updown-15m-{W1}")
    h = start(tmp_path, FakeApi([now_m, next_m]))
    made.append(h)
    h.deliver(NeedMarketFacts(key=now_m.token_ids[0], slug=now_m.slug))
    assert idle(h)
    h.actor.on_exit()
    api = FakeApi([now_m, next_m])
    h2 = start(tmp_path, api)  # same database
    made.append(h2)
    assert h2.actor.assets == {"btc"}
    assert idle(h2)
    assert {a for k, a in api.calls if k == "slug"} == {now_m.slug, next_m.slug}  # no fill needed to start
    assert {e.key for e in h2.sent_to(h2.parent, EnsureCoalescer)} >= set(next_m.token_ids)
