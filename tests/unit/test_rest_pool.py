"""ClobRest's connection pool: a proxy from the environment, or none; errors become TemporaryError."""
from __future__ import annotations

import socket

import pytest
import urllib3

from polycopy.clients.clob_rest import ClobRest
from polycopy.errors import TemporaryError
from polycopy.venue.clob import ApiCreds


def test_no_proxy_in_the_environment_means_direct_connections(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    rest = ClobRest("https://clob.example")
    assert type(rest.pool) is urllib3.PoolManager


def test_https_proxy_is_used_unless_the_host_is_bypassed(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert isinstance(ClobRest("https://clob.example").pool, urllib3.ProxyManager)
    monkeypatch.setenv("NO_PROXY", "clob.example")
    assert not isinstance(ClobRest("https://clob.example").pool, urllib3.ProxyManager)


def test_a_refused_connection_is_a_temporary_error_and_a_post_is_unknown(monkeypatch):
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rest = ClobRest(f"http://127.0.0.1:{port}", timeout_s=0.5, creds=ApiCreds("k", "c2VjcmV0", "p"), address="0x1")
    with pytest.raises(TemporaryError, match="GET /book"):
        rest.get_book("1")
    assert rest.post_order("{}")[0] is None  # no answer: the outcome is unknown, never an exception
