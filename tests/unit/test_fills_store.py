"""store/fills.py: new exactly once, exact decimals, statuses, reload."""
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from polycopy.messages import SourceFill
from polycopy.store import fills as store
from polycopy.store.db import open_db


def fill(key, ts=1_000_000, token="11", price="0.52", size="9.615384"):
    return SourceFill(key=key, source_wallet="0xw", condition_id="0xc", token_id=token, outcome="Up", side="BUY",
                      price=Decimal(price), size=Decimal(size), tx_hash="0xt", source_ts_ms=ts, feed="rtds",
                      recv_mono_ns=42, envelope_ts_ms=ts + 5, slug="btc-updown-15m-1")


def test_insert_is_new_once_and_keeps_exact_decimals(tmp_path):
    db = open_db(tmp_path / "f.sqlite")
    store.ensure(db)
    a, b = fill("k0"), fill("k1")
    assert store.save_new_fills(db, [a, b], {"k0": "routed", "k1": "buffered"}) == [a, b]
    assert store.save_new_fills(db, [a, fill("k2")], {"k0": "routed", "k2": "stale"}) == [fill("k2")]
    assert store.count_by_status(db) == {"routed": 1, "buffered": 1, "stale": 1}
    [back] = store.load_with_status(db, "buffered", since_ms=0)
    assert back == b  # every field round-trips, the amounts as the same Decimal


def test_reload_from_another_connection(tmp_path):
    path = tmp_path / "f.sqlite"
    db = open_db(path)
    store.ensure(db)
    store.save_new_fills(db, [fill("old", ts=10), fill("new", ts=5000)], {"old": "routed", "new": "buffered"})
    db2 = open_db(path)
    assert store.load_keys(db2, since_ms=1000) == {"new": 5000}
    assert store.is_stored(db2, "old") and not store.is_stored(db2, "nope")
    store.set_status(db2, ["new"], "routed")
    assert store.load_with_status(open_db(path), "buffered", since_ms=0) == []


def test_load_with_status_respects_the_age_limit():
    db = open_db(":memory:")
    store.ensure(db)
    store.save_new_fills(db, [fill("a", ts=10), fill("b", ts=2000)], {"a": "buffered", "b": "buffered"})
    assert [f.key for f in store.load_with_status(db, "buffered", since_ms=1000)] == ["b"]


@settings(max_examples=200, deadline=None)
@given(age=st.one_of(st.integers(-8 * 86_400_000, 600_000), st.integers(-2**70, 2**70)),
       price=st.one_of(st.decimals(0, 1, places=4), st.decimals(allow_nan=True, allow_infinity=True)),
       size=st.one_of(st.decimals(0, 10**6, places=6), st.decimals(allow_nan=True, allow_infinity=True)),
       recv=st.integers(-2**70, 2**70), key=st.text(max_size=600))
def test_a_fill_intake_finds_plausible_always_stores(age, price, size, recv, key):
    """policy/fills.py is what stands between a feed's bad value and a refused batch."""
    import time as _time

    from polycopy.policy.fills import implausible

    ts = _time.time_ns() // 1_000_000 + age
    f = SourceFill(key=key, source_wallet="0xw", condition_id="0xc", token_id="1", outcome="Up", side="BUY",
                   price=price, size=size, tx_hash="0xt", source_ts_ms=ts, feed="rtds", recv_mono_ns=recv)
    if implausible(f, _time.time_ns() // 1_000_000) is None:
        db = open_db(":memory:")
        store.ensure(db)
        assert [x.key for x in store.save_new_fills(db, [f], {f.key: "routed"})] == [key]
