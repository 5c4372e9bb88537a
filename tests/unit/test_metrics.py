"""Metrics: quantiles, time windows, and the /metrics endpoint on loopback."""
from __future__ import annotations

import math
import socket

import pytest
import requests

from polycopy.ops.metrics import Metrics, Window, quantiles


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_quantiles_nearest_rank():
    q = quantiles(range(1, 101))
    assert (q["p50"], q["p95"], q["p99"], q["max"], q["n"]) == (50, 95, 99, 100, 100)
    assert quantiles([])["p95"] is None and quantiles([])["n"] == 0
    assert quantiles([7.0])["p99"] == 7.0


def test_window_forgets_old_values():
    w = Window(span_s=10)
    w.add(1.0, now=100)
    w.add(2.0, now=105)
    w.add(3.0, now=112)
    assert w.values(now=112) == [2.0, 3.0]
    assert w.values(now=200) == []


def test_endpoint_serves_histograms_on_loopback_only():
    m = Metrics()
    port = m.serve(free_port())
    try:
        assert m._server.server_address[0] == "127.0.0.1"
        m.copy_delay.observe(1.2)
        m.copy_delay.observe(0.4)
        m.orders.labels("filled").inc()
        m.feed("rtds", connected=True, silence_s=0.5, reconnects=3, circuit_open=False)
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        m.close()
    assert "polycopy_copy_delay_seconds_count 2.0" in body
    assert 'polycopy_copy_delay_seconds_bucket{le="0.5"} 1.0' in body
    assert 'polycopy_orders_total{outcome="filled"} 1.0' in body
    assert 'polycopy_feed_reconnects{feed="rtds"} 3.0' in body
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2)  # closed


def test_port_zero_is_off():
    m = Metrics()
    assert m.serve(0) == 0 and m._server is None
    m.close()


def test_two_registries_do_not_collide():
    a, b = Metrics(), Metrics()  # tests and restarts create several in one process
    a.internal.observe(0.001)
    assert "polycopy_internal_latency_seconds_count 1.0" in a.text()
    assert "polycopy_internal_latency_seconds_count 0.0" in b.text()


def sample(m: Metrics, name: str, **labels) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_copies_count_each_intent_by_outcome_and_reason():
    m = Metrics()
    assert sample(m, "polycopy_copies_placed_total") == 0  # there from the start
    m.decision("approved", "")
    m.decision("rejected", "market_cap")
    m.outcome("filled", "matched")
    m.outcome("partial", "")
    m.outcome("not_sent", "dry_run")
    m.outcome("rejected", "balance")
    m.outcome("not_sent", "executor_error")
    assert sample(m, "polycopy_copies_total", outcome="skipped", reason="market_cap") == 1
    assert sample(m, "polycopy_copies_total", outcome="filled", reason="matched") == 1
    assert sample(m, "polycopy_copies_total", outcome="partial", reason="-") == 1
    assert sample(m, "polycopy_copies_placed_total") == 3  # filled, partial, dry run
    assert sample(m, "polycopy_copies_total", outcome="dry_run", reason="dry_run") == 1
    assert sample(m, "polycopy_copies_total", outcome="not_sent", reason="executor_error") == 1
    assert sample(m, "polycopy_venue_rejects_total", reason="balance") == 1
    assert sample(m, "polycopy_venue_rejects_total", reason="executor_error") is None  # never reached the venue
    assert sample(m, "polycopy_order_rejects_total", reason="executor_error") == 1
    assert sample(m, "polycopy_risk_decisions_total", decision="approved", reason="-") == 1


def test_source_fills_count_what_intake_saw_first_across_its_restarts():
    m = Metrics()
    m.feed_stats("rtds", 5)
    m.feed_stats("backstop", 1)
    m.feed_stats("rtds", 8)
    m.feed_stats("rtds", 2)  # intake restarted: its counts began again
    assert sample(m, "polycopy_source_fills_total") == 5 + 1 + 3 + 2
    assert sample(m, "polycopy_feed_first_seen", feed="rtds") == 2


def test_unknown_money_and_close_only_are_nan_and_the_mode_is_one_hot():
    m = Metrics()
    assert math.isnan(sample(m, "polycopy_balance_usd")) and math.isnan(sample(m, "polycopy_entries_paused"))
    assert sample(m, "polycopy_pnl_usd", book="ours") is None
    m.mode("paper")
    assert [sample(m, "polycopy_trading_mode", mode=x) for x in ("dry_run", "paper", "live")] == [0, 1, 0]
