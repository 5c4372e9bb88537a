"""PendingFills: provisional mempool fills against the rows other feeds deliver later."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from polycopy.messages import SourceFill
from polycopy.policy.pending import PendingFills

SRC, TX, RETRY, OTHER_TX = "0x" + "1d" * 20, "0x" + "aa" * 32, "0x" + "bb" * 32, "0x" + "cc" * 32


def provisional(size="25", tx=TX, order="0x01", fill_raw=15900000, **over):
    return SourceFill(key=f"pending|{order}|{fill_raw}", source_wallet=SRC, condition_id="0xc", token_id="7",
                      outcome="", side="BUY", price=Decimal("0.636"), size=Decimal(size), tx_hash=tx,
                      source_ts_ms=1, feed="mempool", recv_mono_ns=1, provisional=True, order_hash=order, **over)


def row(size, tx=TX, n=0, **over):
    base = provisional()
    return replace(base, key=f"{tx}|7|BUY|0.63|{size}|{n}", size=Decimal(size), tx_hash=tx, feed="rtds",
                   provisional=False, order_hash="", **over)


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_a_retry_is_not_a_new_fill_and_its_hash_confirms():
    book = PendingFills(60)
    assert book.on_provisional(provisional())
    assert not book.on_provisional(provisional(tx=RETRY))
    assert book.on_settled(row("25", tx=RETRY)) == "pending|0x01|15900000"
    assert book.open == {}


def test_a_taker_fill_is_confirmed_by_several_rows_of_its_transaction():
    book = PendingFills(60)
    book.on_provisional(provisional())
    assert book.on_settled(row("10")) == "pending|0x01|15900000"
    assert book.open["pending|0x01|15900000"].remaining == Decimal(15)
    assert book.on_settled(row("15", n=1)) == "pending|0x01|15900000"
    assert book.on_settled(row("15", n=2)) is None  # more than the provisional fill: a fill of its own
    assert book.open == {}


def test_rows_that_do_not_fit_are_fills_of_their_own():
    book = PendingFills(60)
    book.on_provisional(provisional())
    assert book.on_settled(row("25", side="SELL")) is None
    assert book.on_settled(row("25", token_id="8")) is None
    assert book.on_settled(row("25", source_wallet="0x" + "12" * 20)) is None
    assert book.on_settled(row("10", tx=OTHER_TX)) is None  # unknown hash, only part of the size
    assert book.on_settled(row("25", tx=OTHER_TX)) == "pending|0x01|15900000"  # unknown hash, the whole size


def test_rounding_by_a_few_micro_units_still_confirms():
    book = PendingFills(60)
    book.on_provisional(provisional(size="7.6234"))
    assert book.on_settled(row("5.5")) and book.on_settled(row("2.12341", n=1))
    assert book.open == {}


def test_unconfirmed_fills_expire_with_what_was_confirmed():
    clock = Clock()
    book = PendingFills(60, clock=clock)
    book.on_provisional(provisional())
    clock.t += 30
    book.on_provisional(provisional(order="0x02", fill_raw=1))
    book.on_settled(row("10"))
    clock.t += 30
    [(fill, confirmed)] = book.expire()
    assert fill.order_hash == "0x01" and confirmed == Decimal(10)
    assert list(book.open) == ["pending|0x02|1"]
    clock.t += 30
    assert [f.order_hash for f, _ in book.expire()] == ["0x02"] and book.open == {}
