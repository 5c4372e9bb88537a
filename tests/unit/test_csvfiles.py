"""target_trades.csv / target_positions.csv: rows from outcomes, no duplicates, positions add up."""
from __future__ import annotations

import csv
from decimal import Decimal

from polycopy.ops.csvfiles import TargetCsv, slippage_bps, trade_row
from polycopy.messages import OrderOutcome

TOKEN = "7132104512345"


def outcome(oid, status="filled", size="10", usd="5.2", side="BUY", reason="matched"):
    return OrderOutcome(intent_id=f"i-{oid}", order_id=oid, status=status, filled_size=Decimal(size),
                        filled_notional_usd=Decimal(usd), reason=reason, token_id=TOKEN, condition_id="0xc", side=side)


def rows(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_slippage_sign_is_worse_for_us_positive():
    assert slippage_bps("BUY", Decimal("0.50"), Decimal("0.51")) == Decimal("200.00")
    assert slippage_bps("SELL", Decimal("0.50"), Decimal("0.49")) == Decimal("200.00")
    assert slippage_bps("BUY", Decimal("0.50"), Decimal("0.49")) == Decimal("-200.00")
    assert slippage_bps("BUY", Decimal(0), Decimal("0.49")) is None


def test_paper_fill_row_uses_the_fill_price_and_source_price():
    r = trade_row(outcome("0x1"), {"order_id": "0x1"}, {"source_price": "0.50"}, "paper")
    assert r["price"] == "0.520000" and r["size"] == "10" and r["slippage_bps"] == "400.00"
    assert r["mode"] == "paper" and r["status"] == "filled"


def test_dry_run_row_uses_the_intended_order():
    o = outcome("0x2", status="not_sent", size="0", usd="0", reason="dry_run")
    r = trade_row(o, {"order_id": "0x2", "size": "8", "price": "0.53", "notional": "4.24"}, None, "dry_run")
    assert (r["size"], r["price"], r["notional_usd"], r["source_price"]) == ("8", "0.53", "4.24", "")


def test_rejected_or_unsent_outcomes_make_no_row():
    assert trade_row(outcome("0x3", status="rejected", size="0", usd="0"), None, None, "paper") is None
    assert trade_row(outcome("0x4", status="not_sent", size="0", usd="0", reason="kill_switch"),
                     {"size": "5", "price": "0.5"}, None, "dry_run") is None


def test_appends_once_per_order_and_survives_a_restart(tmp_path):
    book = TargetCsv(tmp_path)
    buy = trade_row(outcome("0xa", size="10", usd="5"), None, {"source_price": "0.5"}, "paper")
    assert book.add(buy) and not book.add(buy)
    sell = trade_row(outcome("0xb", size="4", usd="2.4", side="SELL"), None, None, "paper")
    assert book.add(sell)
    again = TargetCsv(tmp_path)  # a restart reads both files back
    assert not again.add(buy) and not again.add(sell)
    assert again.add(trade_row(outcome("0xc", size="2", usd="1.1"), None, None, "paper"))
    trades = rows(tmp_path / "target_trades.csv")
    assert [t["order_id"] for t in trades] == ["0xa", "0xb", "0xc"]
    pos = rows(tmp_path / "target_positions.csv")
    assert [(p["order_id"], p["shares"]) for p in pos] == [("0xa", "10"), ("0xb", "6"), ("0xc", "8")]
    # cost after selling 4 of 10 at an average of 0.5: 5 - 2 = 3; then +1.1
    assert Decimal(pos[1]["cost_usd"]) == Decimal("3") and Decimal(pos[2]["cost_usd"]) == Decimal("4.1")
    assert again.summary() == [{"token_id": TOKEN, "shares": "8", "cost_usd": "4.100000"}]
