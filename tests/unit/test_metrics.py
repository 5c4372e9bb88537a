"""Metrics: quantiles, time windows, and the /metrics endpoint on loopback."""
from __future__ import annotations

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
