"""Intake's mempool path: a trade seen by the mempool and the settled feeds is copied once, a
held provisional fill is copied from the settled feed, and a failed settlement follows the policy."""
import sqlite3
import time
from decimal import Decimal

from polycopy.actors.intake import PENDING, RETRY, Intake
from polycopy.config.loader import parse_config
from polycopy.messages import Alert, FillBatch, Market, SourceFill
from polycopy.store import fills as store
from polycopy.store.db import open_db
from tests.actors.harness import Harness
from tests.conftest import make_config

WALLET = "0xsource"


def cfg(tmp_path, copy_pending=True, policy="hold", timeout_s=60):
    return parse_config({"store": {"path": str(tmp_path / "s.sqlite")},
                         "copy": {"copy_pending_fills": copy_pending, "pending_revert_policy": policy,
                                  "mempool_confirm_timeout_s": timeout_s}})


MARKET = Market(condition_id="0xc", token_ids=("11", "12"), outcomes=("Up", "Down"), end_ts=1787102100 + 900,
                tick_size=Decimal("0.01"), min_order_size=Decimal("5"), neg_risk=False)


def start(tmp_path, **kw):
    h = Harness(Intake, config=cfg(tmp_path, **kw), peers={"coalescer:11": "c11", "telemetry": "tel"})
    h.deliver(MARKET)
    return h


def pending(order="0xo1", tx="0xt1", size="10", side="BUY"):
    raw = int(Decimal(size) * 1_000_000)
    return SourceFill(key=f"pending|{order}|{raw}", source_wallet=WALLET, condition_id="0xc", token_id="11",
                      outcome="", side=side, price=Decimal("0.5"), size=Decimal(size), tx_hash=tx,
                      source_ts_ms=time.time_ns() // 1_000_000, feed="mempool", recv_mono_ns=time.monotonic_ns(), provisional=True,
                      order_hash=order)


def settled(tx="0xt1", size="10", feed="rtds", occ=0, side="BUY"):
    return SourceFill(key=f"{tx}|11|{side}|0.5|{size}|{occ}", source_wallet=WALLET, condition_id="0xc",
                      token_id="11", outcome="Up", side=side, price=Decimal("0.5"), size=Decimal(size), tx_hash=tx,
                      source_ts_ms=time.time_ns() // 1_000_000, feed=feed, recv_mono_ns=time.monotonic_ns(),
                      slug="btc-updown-15m-1787102100")


def routed(h):
    return [f for b in h.sent_to("c11", FillBatch) for f in b.fills]


def statuses(tmp_path):
    rows = open_db(tmp_path / "s.sqlite").execute("SELECT key, status, confirms FROM fills").fetchall()
    return {k: (s, c) for k, s, c in rows}


def age_pending(h, seconds):
    for p in h.actor.mempool.pending.open.values():
        p.seen_s -= seconds


def test_a_trade_from_all_three_feeds_is_copied_once_from_the_mempool(tmp_path):
    h = start(tmp_path)
    p = pending()
    h.deliver(FillBatch(fills=(p,)))
    assert [f.key for f in routed(h)] == [p.key]
    h.deliver(FillBatch(fills=(settled(),)))  # RTDS
    h.deliver(FillBatch(fills=(settled(feed="backstop"),)))  # the Data API poll, same key
    assert [f.key for f in routed(h)] == [p.key]
    s = statuses(tmp_path)
    assert s[p.key][0] == "confirmed" and s["0xt1|11|BUY|0.5|10|0"] == ("linked", p.key)
    assert not h.actor.mempool.pending.open
    assert h.actor.counters["rtds"].duplicates == 1 and h.actor.counters["backstop"].duplicates == 1


def test_the_mempool_twice_under_two_hashes_is_copied_once(tmp_path):
    h = start(tmp_path)
    h.deliver(FillBatch(fills=(pending(tx="0xfirst"),)))
    h.deliver(FillBatch(fills=(pending(tx="0xretry"),)))  # the retry: same order and fill, new hash
    assert len(routed(h)) == 1
    h.deliver(FillBatch(fills=(settled(tx="0xretry"),)))  # RTDS reports the hash that was mined
    assert len(routed(h)) == 1 and not h.actor.mempool.pending.open


def test_a_taker_fill_is_confirmed_by_several_rows_of_its_transaction(tmp_path):
    h = start(tmp_path)
    p = pending(size="10")
    h.deliver(FillBatch(fills=(p,)))
    h.deliver(FillBatch(fills=(settled(size="4"), settled(size="6"))))  # one row per maker
    assert [f.key for f in routed(h)] == [p.key]
    assert statuses(tmp_path)[p.key][0] == "confirmed"


def test_a_fill_missing_from_the_mempool_is_copied_from_rtds(tmp_path):
    h = start(tmp_path)
    h.deliver(FillBatch(fills=(pending(order="0xother", tx="0xt9", size="3"),)))
    h.deliver(FillBatch(fills=(settled(tx="0xt1", size="10"),)))
    assert [f.key for f in routed(h)] == ["pending|0xother|3000000", "0xt1|11|BUY|0.5|10|0"]


def test_a_retry_mined_under_a_hash_never_seen_pending_still_confirms(tmp_path):
    h = start(tmp_path)
    h.deliver(FillBatch(fills=(pending(tx="0xfirst"),)))
    h.deliver(FillBatch(fills=(settled(tx="0xunseen"),)))  # same wallet, token, side and whole size
    assert len(routed(h)) == 1 and not h.actor.mempool.pending.open


def test_a_late_mempool_fill_of_a_trade_already_copied_is_not_copied_again(tmp_path):
    h = start(tmp_path)
    h.deliver(FillBatch(fills=(settled(),)))
    h.deliver(FillBatch(fills=(pending(),)))  # the node was slower than RTDS
    assert [f.key for f in routed(h)] == ["0xt1|11|BUY|0.5|10|0"]
    assert statuses(tmp_path)[pending().key][0] == "confirmed" and not h.actor.mempool.pending.open


def test_with_the_fast_path_off_the_settled_row_is_the_copy(tmp_path):
    h = start(tmp_path, copy_pending=False)
    p = pending()
    h.deliver(FillBatch(fills=(p,)))
    assert routed(h) == [] and statuses(tmp_path)[p.key][0] == "held"
    h.deliver(FillBatch(fills=(settled(),)))
    h.deliver(FillBatch(fills=(pending(tx="0xretry"),)))  # a late retry of the same settlement
    assert [f.key for f in routed(h)] == ["0xt1|11|BUY|0.5|10|0"]
    s = statuses(tmp_path)
    assert s[p.key][0] == "confirmed" and s["0xt1|11|BUY|0.5|10|0"] == ("routed", p.key)


def test_a_failed_settlement_alerts_and_holds(tmp_path):
    h = start(tmp_path, policy="hold")
    p = pending()
    h.deliver(FillBatch(fills=(p,)))
    h.fire_wakeups(lambda x: x == PENDING)
    assert h.sent_to("tel", Alert) == []  # not yet stale
    age_pending(h, 61)
    h.fire_wakeups(lambda x: x == PENDING)
    [alert] = h.sent_to("tel", Alert)
    assert alert.condition == "pending_failed" and "held" in alert.text
    assert [f.key for f in routed(h)] == [p.key]  # no unwind
    assert statuses(tmp_path)[p.key][0] == "failed" and h.actor.mempool.counts["failed"] == 1
    h.deliver(FillBatch(fills=(settled(),)))  # a row after the timeout is a trade of its own
    assert len(routed(h)) == 2


def test_a_failed_settlement_unwinds_the_unconfirmed_part(tmp_path):
    h = start(tmp_path, policy="unwind")
    p = pending(size="10")
    h.deliver(FillBatch(fills=(p,)))
    h.deliver(FillBatch(fills=(settled(size="4"),)))  # one maker settled, the rest never did
    age_pending(h, 61)
    h.fire_wakeups(lambda x: x == PENDING)
    assert len(h.sent_to("tel", Alert)) == 1
    first, unwind = routed(h)
    assert unwind.key == f"unwind|{p.key}" and unwind.side == "SELL" and unwind.size == Decimal("6")
    assert not unwind.provisional and unwind.token_id == "11"
    assert statuses(tmp_path)[unwind.key][0] == "routed"


def test_a_held_fill_that_never_settles_raises_nothing(tmp_path):
    h = start(tmp_path, copy_pending=False)
    h.deliver(FillBatch(fills=(pending(),)))
    age_pending(h, 61)
    h.fire_wakeups(lambda x: x == PENDING)
    assert h.sent_to("tel", Alert) == [] and routed(h) == []
    assert h.actor.mempool.counts["failed"] == 1


def test_open_provisional_fills_survive_a_restart(tmp_path):
    h = start(tmp_path)
    p = pending(size="10")
    h.deliver(FillBatch(fills=(p,)))
    h.deliver(FillBatch(fills=(settled(size="4"),)))
    h.actor.on_exit()
    h2 = start(tmp_path)
    assert routed(h2) == []  # nothing routed again at start
    assert h2.actor.mempool.pending.open[p.key].confirmed == Decimal("4")
    h2.deliver(FillBatch(fills=(settled(size="6", occ=0, tx="0xt1"),)))
    assert routed(h2) == [] and statuses(tmp_path)[p.key][0] == "confirmed"


def test_a_refused_write_changes_no_pending_state(tmp_path, monkeypatch):
    h = start(tmp_path)
    real = store.save_new_fills

    def refuse(*a, **kw):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store, "save_new_fills", refuse)
    h.deliver(FillBatch(fills=(pending(),)))
    assert routed(h) == [] and not h.actor.mempool.pending.open
    monkeypatch.setattr(store, "save_new_fills", real)
    h.fire_wakeups(lambda x: x == RETRY)
    assert len(routed(h)) == 1 and pending().key in h.actor.mempool.pending.open


def test_a_coalescer_asked_for_without_a_market_end_is_told_it_when_facts_arrive(tmp_path):
    """A mempool fill has no slug: its coalescer is created with end 0, and learns the end later."""
    from decimal import Decimal as D

    from polycopy.messages import EnsureCoalescer, Market

    h = Harness(Intake, config=make_config(tmp_path), peers={"catalog": "cat"})
    fill = SourceFill(key="pending|0xh|5000000", source_wallet="0xw", condition_id="0xc", token_id="42", outcome="",
                      side="BUY", price=D("0.5"), size=D("5"), tx_hash="0xt", source_ts_ms=int(time.time() * 1000),
                      feed="rtds", recv_mono_ns=time.monotonic_ns())
    h.deliver(FillBatch(fills=(fill,)))
    assert [e.end_ts for e in h.sent_to(h.parent, EnsureCoalescer)] == [0]
    facts = Market(condition_id="0xc", token_ids=("42", "43"), outcomes=("Up", "Down"), end_ts=1_900_000_000,
                        tick_size=D("0.01"), min_order_size=D("5"), neg_risk=False)
    h.deliver(facts)
    h.deliver(facts)  # told once
    assert [e.end_ts for e in h.sent_to(h.parent, EnsureCoalescer)] == [0, 1_900_000_000]
    h.actor.on_exit()
