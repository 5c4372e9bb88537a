"""Blocking HTTP over kept-alive urllib3 connections (TCP_NODELAY, explicit timeouts, no retries):
every REST client's plumbing.

urllib3 directly, not requests: on the order path requests added ~0.8 ms per call (its session
machinery on top of the same pool). A proxy from HTTPS_PROXY/HTTP_PROXY is looked up once, at
construction. `HttpClient.get` never waits past its deadline and turns every network failure
into `TemporaryError`; `read` maps an answer's status with the one retry rule (wire/http.py).
"""
from __future__ import annotations

import socket
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.connection import HTTPConnection

from polycopy.errors import RejectedError, TemporaryError
from polycopy.wire.data_api import parse_error
from polycopy.wire.http import retry_after_s, should_retry

SOCKET_OPTIONS = HTTPConnection.default_socket_options + [
    (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1), (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
MAX_BODY_BYTES = 32 * 1024 * 1024  # above every parser's own limit; a bigger answer is cut off unread


def pool(base_url: str, maxsize: int = 4) -> urllib3.PoolManager:
    kw = {"num_pools": 2, "maxsize": maxsize, "retries": False, "socket_options": SOCKET_OPTIONS}
    url = urlsplit(base_url)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(url.hostname or ""):
        return urllib3.ProxyManager(proxy, **kw)
    return urllib3.PoolManager(**kw)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict
    body: bytes
    recv_ns: int  # monotonic, when the answer was in


class HttpClient:
    def __init__(self, base_url: str, timeout_s: float, connect_timeout_s: float | None = None):
        self.base = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s or min(timeout_s, 1.0)
        self.pool = pool(self.base)

    def get(self, path: str, params: dict | None = None, *, deadline: float | None = None,
            headers: dict | None = None) -> Answer:
        """One GET; raises TemporaryError when nothing (or nothing whole) came back in time."""
        timeout = self.timeout_s if deadline is None else min(self.timeout_s, deadline - time.monotonic())
        if timeout <= 0:
            raise TemporaryError(f"GET {path}: deadline passed")
        url = self.base + path + (f"?{urlencode(params)}" if params else "")
        try:
            r = self.pool.urlopen("GET", url, headers=headers, redirect=False, preload_content=False,
                                  timeout=urllib3.Timeout(connect=min(self.connect_timeout_s, timeout), read=timeout))
            try:
                body = r.read(MAX_BODY_BYTES + 1)
            except BaseException:
                r.close()
                raise
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise TemporaryError(f"GET {path}: {type(e).__name__}") from None
        if len(body) > MAX_BODY_BYTES:
            r.close()  # the rest is unread: this connection cannot serve another request
            raise TemporaryError(f"GET {path}: answer larger than {MAX_BODY_BYTES} bytes")
        r.release_conn()
        return Answer(status=r.status, headers=dict(r.headers), body=body, recv_ns=time.monotonic_ns())

    def read(self, path: str, params: dict | None = None, *, deadline: float | None = None,
             ok: tuple = (200,)) -> Answer:
        """A GET whose status is one of `ok`; else TemporaryError (may work later: 425, 429, 5xx,
        or a v2 body saying `retryable`) or RejectedError (will not)."""
        a = self.get(path, params, deadline=deadline)
        if a.status in ok:
            return a
        err = parse_error(a.status, a.body)
        what = f"GET {path}: HTTP {a.status}" + (f" {err.code or err.error}" if err.code or err.error else "")
        if should_retry(a.status, err.retryable):
            raise TemporaryError(what, retry_after_s(_header(a.headers, "Retry-After")))
        raise RejectedError(what)

    def close(self) -> None:
        self.pool.clear()


def _header(headers: dict, name: str):
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)
