"""Intake: dedupe across feeds and restarts, persist before routing, buffer until the coalescer exists."""
import time
from collections import Counter
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thespian.actors import ActorAddress

from polycopy.actors.intake import ENSURE, FACTS_WAIT, STATS, Intake
from polycopy.config.loader import parse_config
from polycopy.messages import (EnsureCoalescer, FeedStats, FillBatch, Market, NeedMarketFacts, Peers,
                               SourceFill, StageTiming)
from polycopy.store import fills as store
from polycopy.store.db import open_db
from tests.actors.harness import Harness



def cfg(tmp_path, max_age_s=60):
    return parse_config({"store": {"path": str(tmp_path / "s.sqlite")}, "copy": {"max_fill_age_at_start_s": max_age_s}})


def fill(tx="0xt1", occ=0, token="11", feed="rtds", ts=None, size="5", slug="btc-updown-15m-1787102100"):
    ts = time.time_ns() // 1_000_000 if ts is None else ts
    key = f"{tx}|{token}|BUY|0.5|{size}|{occ}"
    return SourceFill(key=key, source_wallet="0xw", condition_id="0xc", token_id=token, outcome="Up", side="BUY",
                      price=Decimal("0.5"), size=Decimal(size), tx_hash=tx, source_ts_ms=ts, feed=feed,
                      recv_mono_ns=time.monotonic_ns(), slug=slug)


END = 1787102100 + 900


def market(*tokens, end=END):
    return Market(condition_id="0xc", token_ids=tokens, outcomes=("Up", "Down")[:len(tokens)], end_ts=end,
                  tick_size=Decimal("0.01"), min_order_size=Decimal("5"), neg_risk=False)


def routed(h, name="c11"):
    return [f.key for b in h.sent_to(name, FillBatch) for f in b.fills]


def start(tmp_path, peers=None, markets=(("11", "12"), ("22", "23")), **kw):
    """An intake that knows the markets of tokens 11 and 22 (the catalog pushed them)."""
    peers = {"coalescer:11": "c11", "telemetry": "tel", "catalog": "cat"} if peers is None else peers
    h = Harness(Intake, config=cfg(tmp_path, **kw), peers=peers)
    for tokens in markets:
        h.deliver(market(*tokens))
    return h


def test_new_fills_are_routed_once_across_feeds(tmp_path):
    h = start(tmp_path, peers={"coalescer:11": "c11", "coalescer:22": "c22", "telemetry": "tel"})
    h.deliver(FillBatch(fills=(fill("0xa"), fill("0xb"), fill("0xc", token="22"))))
    assert [len(b.fills) for b in h.sent_to("c11", FillBatch)] == [2]  # one batch per token
    assert routed(h, "c22") == ["0xc|22|BUY|0.5|5|0"]
    h.clear()
    h.deliver(FillBatch(fills=(fill("0xa", feed="backstop"), fill("0xd", feed="backstop"))))
    assert routed(h) == ["0xd|11|BUY|0.5|5|0"]
    c = h.actor.counters
    assert (c["rtds"].first_seen, c["backstop"].first_seen, c["backstop"].duplicates) == (3, 1, 1)


def test_three_identical_fills_in_one_tx_route_three_times_from_either_feed_or_both(tmp_path):
    h = start(tmp_path)
    h.deliver(FillBatch(fills=(fill(occ=0), fill(occ=1))))  # RTDS saw two of them
    assert routed(h) == ["0xt1|11|BUY|0.5|5|0"]  # the repeat waits for the backstop
    h.deliver(FillBatch(fills=tuple(fill(occ=i, feed="backstop") for i in range(3))))  # the poll lists all three
    h.deliver(FillBatch(fills=(fill(occ=0, feed="rtds"),)))  # orders_matched repeats the taker row
    assert sorted(routed(h)) == [f"0xt1|11|BUY|0.5|5|{i}" for i in range(3)]
    assert store.count_by_status(open_db(tmp_path / "s.sqlite")) == {"routed": 3}


def test_a_frame_delivered_twice_is_one_fill(tmp_path):
    h = start(tmp_path)
    h.deliver(FillBatch(fills=(fill("0xa", occ=0), fill("0xa", occ=1))))  # RTDS numbered its own repeat 1
    h.deliver(FillBatch(fills=(fill("0xa", occ=0, feed="backstop"),)))  # the venue's records hold one row
    assert routed(h) == ["0xa|11|BUY|0.5|5|0"]
    assert store.count_by_status(open_db(tmp_path / "s.sqlite")) == {"routed": 1, "unconfirmed": 1}
    h.fire_wakeups(lambda p: p == STATS)
    stats = {s.feed: s for s in h.sent_to("tel", FeedStats)}
    assert (stats["rtds"].first_seen, stats["rtds"].unconfirmed, stats["backstop"].duplicates) == (1, 1, 1)


def test_an_unconfirmed_repeat_survives_a_restart_and_is_copied_once_confirmed(tmp_path):
    h = start(tmp_path)
    h.deliver(FillBatch(fills=(fill(occ=0), fill(occ=1))))
    h.actor.on_exit()
    h2 = start(tmp_path)
    assert routed(h2) == []
    h2.deliver(FillBatch(fills=(fill(occ=1),)))  # RTDS again: still not enough
    assert routed(h2) == []
    h2.deliver(FillBatch(fills=(fill(occ=0, feed="backstop"), fill(occ=1, feed="backstop"))))
    assert routed(h2) == ["0xt1|11|BUY|0.5|5|1"]
    h2.deliver(FillBatch(fills=(fill(occ=1, feed="backstop"),)))  # a later poll lists it again
    assert routed(h2) == ["0xt1|11|BUY|0.5|5|1"]


def test_duplicates_inside_one_batch_are_dropped(tmp_path):
    h = start(tmp_path)
    h.deliver(FillBatch(fills=(fill(), fill())))
    assert routed(h) == ["0xt1|11|BUY|0.5|5|0"]


def test_persisted_before_routed(tmp_path, monkeypatch):
    h = start(tmp_path)
    seen_at_send = []
    orig = h.ref.actor_send

    def send(target, msg):
        if isinstance(msg, FillBatch):
            seen_at_send.append(all(store.is_stored(open_db(tmp_path / "s.sqlite"), f.key) for f in msg.fills))
        orig(target, msg)

    monkeypatch.setattr(h.ref, "actor_send", send)
    h.deliver(FillBatch(fills=(fill("0xa"), fill("0xb"))))
    assert seen_at_send == [True]


def test_missing_coalescer_buffers_asks_and_flushes_on_peers(tmp_path):
    h = start(tmp_path, peers={"telemetry": "tel", "catalog": "cat"})
    h.deliver(FillBatch(fills=(fill("0xa"),)))
    h.deliver(FillBatch(fills=(fill("0xb"),)))
    [ensure] = h.sent_to("parent", EnsureCoalescer)  # asked once, not per fill
    assert ensure.key == "11" and ensure.condition_id == "0xc" and ensure.end_ts == END
    assert h.sent_to("cat", NeedMarketFacts) == []  # the market is known
    assert h.sent(FillBatch) == []
    assert store.count_by_status(open_db(tmp_path / "s.sqlite")) == {"buffered": 2}
    h.actor.router.asked["11"] -= 10  # the re-ask is time-gated: age the record
    h.fire_wakeups(lambda p: p == ENSURE)
    assert len(h.sent_to("parent", EnsureCoalescer)) == 2
    h.deliver(Peers(peers={"coalescer:11": ActorAddress("c11")}))
    assert routed(h) == ["0xa|11|BUY|0.5|5|0", "0xb|11|BUY|0.5|5|0"]
    assert store.count_by_status(open_db(tmp_path / "s.sqlite")) == {"routed": 2}
    h.deliver(FillBatch(fills=(fill("0xc"),)))  # now straight through
    assert routed(h)[-1] == "0xc|11|BUY|0.5|5|0" and len(h.sent_to("c11", FillBatch)) == 2
    assert all(b.market == market("11", "12") for b in h.sent_to("c11", FillBatch))  # the market rides along


def test_a_token_whose_market_is_unknown_waits_for_it_then_routes(tmp_path):
    """Nothing can be priced or signed without the market: the first fills wait for the catalog."""
    h = start(tmp_path, peers={"telemetry": "tel", "catalog": "cat"}, markets=())
    h.deliver(FillBatch(fills=(fill("0xa", slug="will-it-rain-tomorrow"),)))
    [need] = h.sent_to("cat", NeedMarketFacts)
    assert need.key == "11" and need.slug == "will-it-rain-tomorrow"
    h.deliver(Peers(peers={"coalescer:11": ActorAddress("c11")}))  # the coalescer was quicker than the lookup
    h.deliver(FillBatch(fills=(fill("0xb", slug="will-it-rain-tomorrow"),)))
    assert routed(h) == []
    h.deliver(market("11", "12", end=1_900_000_000))
    assert routed(h) == ["0xa|11|BUY|0.5|5|0", "0xb|11|BUY|0.5|5|0"]
    assert h.sent_to("c11", FillBatch)[0].market.end_ts == 1_900_000_000
    h.deliver(FillBatch(fills=(fill("0xc", slug="will-it-rain-tomorrow"),)))  # then straight through
    assert routed(h)[-1] == "0xc|11|BUY|0.5|5|0"


def test_without_its_market_the_wait_ends_and_risk_decides(tmp_path):
    h = start(tmp_path, peers={"telemetry": "tel", "catalog": "cat"}, markets=())
    h.deliver(FillBatch(fills=(fill("0xa", slug="will-it-rain-tomorrow"),)))
    h.deliver(Peers(peers={"coalescer:11": ActorAddress("c11")}))
    h.fire_wakeups(lambda p: p == FACTS_WAIT)  # the timer fires early: still waiting
    assert routed(h) == []
    h.actor.router.hold_until["11"] -= 10
    h.fire_wakeups(lambda p: p == FACTS_WAIT)
    assert routed(h) == ["0xa|11|BUY|0.5|5|0"] and h.sent_to("c11", FillBatch)[0].market is None
    assert store.count_by_status(open_db(tmp_path / "s.sqlite")) == {"routed": 1}


def test_with_no_wait_configured_nothing_is_held(tmp_path):
    config = parse_config({"store": {"path": str(tmp_path / "s.sqlite")}, "copy": {"market_facts_wait_ms": 0}})
    h = Harness(Intake, config=config, peers={"telemetry": "tel", "catalog": "cat"})
    h.deliver(FillBatch(fills=(fill("0xa", slug="will-it-rain-tomorrow"),)))
    h.deliver(Peers(peers={"coalescer:11": ActorAddress("c11")}))
    assert routed(h) == ["0xa|11|BUY|0.5|5|0"]


def test_restart_routes_nothing_twice_and_the_buffered_once(tmp_path):
    h = start(tmp_path, peers={"coalescer:11": "c11"})
    h.deliver(FillBatch(fills=(fill("0xa"), fill("0xb", token="22"))))  # 22 has no coalescer yet
    h.actor.on_exit()
    h2 = start(tmp_path, peers={"coalescer:11": "c11", "coalescer:22": "c22"})
    assert routed(h2, "c22") == ["0xb|22|BUY|0.5|5|0"]  # buffered before the restart: routed now
    h2.deliver(FillBatch(fills=(fill("0xa", feed="backstop"), fill("0xb", token="22"), fill("0xe"))))
    assert routed(h2) == ["0xe|11|BUY|0.5|5|0"] and routed(h2, "c22") == ["0xb|22|BUY|0.5|5|0"]


def test_old_fills_at_start_are_recorded_not_copied(tmp_path):
    h = start(tmp_path, max_age_s=60)
    now_ms = time.time_ns() // 1_000_000
    h.deliver(FillBatch(fills=(fill("0xold", ts=now_ms - 120_000, feed="backstop"), fill("0xyoung", ts=now_ms - 10_000))))
    assert routed(h) == ["0xyoung|11|BUY|0.5|5|0"]
    assert h.actor.counters["backstop"].stale == 1
    assert store.count_by_status(open_db(tmp_path / "s.sqlite")) == {"stale": 1, "routed": 1}
    h.deliver(FillBatch(fills=(fill("0xold", ts=now_ms - 120_000),)))  # not new a second time either
    assert h.actor.counters["rtds"].duplicates == 1


def test_telemetry_gets_stage_timings_and_feed_stats(tmp_path):
    h = start(tmp_path)
    f = fill("0xa")
    h.deliver(FillBatch(fills=(f,)))
    [t] = h.sent_to("tel", StageTiming)
    names = [name for name, _ in t.stages]
    assert t.key == f.key and t.stages[0] == ("recv", f.recv_mono_ns) and names[1:] == ["intake_in", "intake"]
    assert t.stages[0][1] <= t.stages[1][1] <= t.stages[2][1]
    assert t.stages[1][1] >= f.recv_mono_ns
    h.fire_wakeups(lambda p: p == STATS)
    [s] = h.sent_to("tel", FeedStats)
    assert s.feed == "rtds" and s.first_seen == 1 and s.lag_source_ms_max >= 0


def test_without_telemetry_it_stays_quiet(tmp_path):
    h = start(tmp_path, peers={"coalescer:11": "c11"})
    h.deliver(FillBatch(fills=(fill("0xa"),)))
    assert h.sent(StageTiming) == [] and routed(h) == ["0xa|11|BUY|0.5|5|0"]


def test_a_refused_write_loses_nothing_and_routes_nothing_unstored(tmp_path, monkeypatch):
    h = start(tmp_path)
    real = store.save_new_fills

    def refuse(*a, **kw):
        raise __import__("sqlite3").OperationalError("database is locked")

    monkeypatch.setattr(store, "save_new_fills", refuse)
    h.deliver(FillBatch(fills=(fill("0xa"),)))
    h.deliver(FillBatch(fills=(fill("0xb"),)))
    assert routed(h) == []
    monkeypatch.setattr(store, "save_new_fills", real)
    h.fire_wakeups(lambda p: p == "intake-retry")
    assert routed(h) == ["0xa|11|BUY|0.5|5|0", "0xb|11|BUY|0.5|5|0"]
    h.deliver(FillBatch(fills=(fill("0xa"),)))
    assert len(routed(h)) == 2


deliveries = st.lists(st.tuples(st.integers(1, 3), st.lists(st.integers(0, 2), min_size=3, max_size=3),
                                st.integers(0, 9), st.booleans()), min_size=1, max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deliveries=deliveries, restart_at=st.integers(0, 12), seed=st.randoms(use_true_random=False))
def test_any_delivery_order_copies_each_fill_exactly_as_often_as_it_happened(tmp_path_factory, deliveries, restart_at,
                                                                            seed):
    """Transactions with 1-3 identical fills; RTDS delivers each 0-2 times (numbering its own repeats);
    the backstop lists each transaction (at a random point, sometimes twice); intake may restart."""
    tmp_path = tmp_path_factory.mktemp("dedupe")
    events, truth = [], {}
    for n, (count, times, poll_at, poll_twice) in enumerate(deliveries):
        tx = f"0x{n:04x}"
        truth[tx] = count
        frames = [fill(tx, occ=i) for i, _ in enumerate(range(sum(times[:count])))]
        poll = [FillBatch(fills=tuple(fill(tx, occ=i, feed="backstop") for i in range(count)))]
        stream = [FillBatch(fills=(f,)) for f in frames]
        at = min(poll_at, len(stream))
        events.append(stream[:at] + poll + stream[at:] + (poll if poll_twice else []))
    order = []
    while any(events):  # interleave the transactions' streams, each in its own order
        lane = seed.choice([e for e in events if e])
        batch = lane.pop(0)
        if order and seed.random() < 0.3:  # one drain of the watchers can hold several deliveries
            batch = FillBatch(fills=order.pop().fills + batch.fills)
        order.append(batch)
    h, sent = start(tmp_path), []
    for i, batch in enumerate(order):
        if i == restart_at:
            sent += routed(h)
            h.actor.on_exit()
            h = start(tmp_path)
        h.deliver(batch)
        copies = Counter(k.split("|")[0] for k in sent + routed(h))
        assert all(copies[tx] <= truth[tx] for tx in truth)  # never more than happened, at any moment
    copies = Counter(k.split("|")[0] for k in sent + routed(h))
    assert copies == Counter(truth)  # and exactly what happened once the backstop listed it


def test_two_polls_confirming_one_repeat_in_one_batch_copy_it_once(tmp_path):
    h = start(tmp_path)
    h.deliver(FillBatch(fills=(fill(occ=0), fill(occ=1))))
    h.deliver(FillBatch(fills=(fill(occ=1, feed="backstop"), fill(occ=1, feed="backstop"))))
    assert routed(h) == ["0xt1|11|BUY|0.5|5|0", "0xt1|11|BUY|0.5|5|1"]


def test_an_implausible_fill_is_dropped_and_counted_and_its_batch_still_goes(tmp_path):
    from dataclasses import replace

    h = start(tmp_path)
    bad = [replace(fill("0xbad1"), source_ts_ms=10**20), replace(fill("0xbad2"), source_ts_ms=0),
           replace(fill("0xbad3"), size=Decimal("1e30")), replace(fill("0xbad4"), price=Decimal("NaN"))]
    h.deliver(FillBatch(fills=(fill("0xa"), *bad, fill("0xb"))))
    assert routed(h) == ["0xa|11|BUY|0.5|5|0", "0xb|11|BUY|0.5|5|0"]
    assert h.actor.counters["rtds"].invalid == 4
    assert store.count_by_status(open_db(tmp_path / "s.sqlite")) == {"routed": 2}
