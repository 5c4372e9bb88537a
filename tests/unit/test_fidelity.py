"""Copy fidelity (ops/fidelity.py): share of the source's size copied, price gap, reasons."""
from decimal import Decimal as D

from prometheus_client import CollectorRegistry, generate_latest

from polycopy.ops.fidelity import Fidelity


def test_share_gap_and_reasons():
    f = Fidelity()
    f.decision("approved", "ok", D("20"))
    f.decision("clipped", "cap_order", D("30"))
    f.decision("rejected", "near_expiry", D("10"))
    f.decision("dropped", "netted_out", D("0"))
    f.decision("rejected", "duplicate_intent", D("20"))  # counted with its first verdict
    f.copied("BUY", D("20"), D("0.51"), D("0.50"))  # 1 cent, 200 bps worse
    f.copied("SELL", D("10"), D("0.41"), D("0.40"))  # sold higher: 1 cent better
    f.outcome("not_sent", "beyond_slippage")
    f.outcome("not_sent", "dry_run")  # a dry run copies on paper: not a loss
    f.outcome("rejected", "no_fill")
    s = f.summary()
    assert (s["source_shares"], s["copied_shares"], s["size_copied_share"], s["copies"]) == ("60", "30", 0.5, 2)
    assert s["price_gap_cents"]["n"] == 2 and s["price_gap_cents"]["p95"] == 1.0
    assert s["price_gap_bps"]["p50"] == -250.0  # nearest rank: the better of the two
    assert s["not_copied"] == {"risk:near_expiry": 1, "coalescer:netted_out": 1, "executor:beyond_slippage": 1,
                               "venue:no_fill": 1}


def test_empty_summary_has_no_share():
    s = Fidelity().summary()
    assert s["size_copied_share"] is None and s["price_gap_bps"]["n"] == 0 and s["not_copied"] == {}


def test_prometheus_block():
    r = CollectorRegistry()
    f = Fidelity(r)
    f.decision("approved", "ok", D("40"))
    f.copied("BUY", D("10"), D("0.52"), D("0.50"))
    f.outcome("not_sent", "beyond_slippage")
    text = generate_latest(r).decode()
    assert "polycopy_copy_source_shares_total 40.0" in text
    assert "polycopy_copy_copied_shares_total 10.0" in text
    assert "polycopy_copy_size_share 0.25" in text
    assert 'polycopy_copy_not_copied_total{reason="beyond_slippage",stage="executor"} 1.0' in text
    assert 'polycopy_copy_price_gap_cents_bucket{le="2.0"} 1.0' in text
