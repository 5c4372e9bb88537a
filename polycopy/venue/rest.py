"""CLOB REST over kept-alive urllib3 connections (TCP_NODELAY, explicit timeouts, no retries).

urllib3 directly, not requests: on the order path requests added ~0.8 ms per call here (its
session machinery on top of the same urllib3 pool). A proxy from HTTPS_PROXY/HTTP_PROXY is
looked up once, at construction.

Every call returns what the venue said or raises `TemporaryError`; `post_order` never raises:
a send that got no answer is returned as status None (outcome unknown).
"""
from __future__ import annotations

import json
import socket
import urllib.request
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.connection import HTTPConnection

from polycopy.errors import OperationalError, TemporaryError
from polycopy.venue import clob
from polycopy.venue.responses import Book, VenueOrder, parse_book, parse_order

SOCKET_OPTIONS = HTTPConnection.default_socket_options + [
    (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1), (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]


def _pool(base_url: str) -> urllib3.PoolManager:
    kw = {"num_pools": 2, "maxsize": 4, "retries": False, "socket_options": SOCKET_OPTIONS}
    url = urlsplit(base_url)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(url.hostname or ""):
        return urllib3.ProxyManager(proxy, **kw)
    return urllib3.PoolManager(**kw)


class ClobRest:
    def __init__(self, base_url: str, *, timeout_s: float = 2.5, connect_timeout_s: float = 1.0,
                 creds: clob.ApiCreds | None = None, address: str = ""):
        self.base = base_url.rstrip("/")
        self.timeout = (connect_timeout_s, timeout_s)
        self.creds, self.address = creds, address
        self.pool = _pool(self.base)

    def close(self) -> None:
        self.pool.clear()

    # ------------------------------------------------------------ plumbing

    def _headers(self, method: str, path: str, body: str | None) -> dict:
        h = {"Content-Type": "application/json"} if body is not None else {}
        if self.creds is not None:
            h.update(clob.l2_headers(self.creds, self.address, method, path, body))
        return h

    def request(self, method: str, path: str, *, params=None, body: str | None = None, auth: bool = False,
                headers: dict | None = None, timeout: float | None = None):
        """(status, headers, json-or-None); raises TemporaryError when nothing came back."""
        if auth and self.creds is None:
            raise OperationalError(f"{method} {path} needs API credentials")
        h = self._headers(method, path, body) if auth else ({"Content-Type": "application/json"} if body else {})
        h.update(headers or {})
        url = self.base + path + (f"?{urlencode(params)}" if params else "")
        try:
            r = self.pool.urlopen(method, url, body=body, headers=h, redirect=False,
                                  timeout=urllib3.Timeout(connect=self.timeout[0], read=timeout or self.timeout[1]))
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise TemporaryError(f"{method} {path}: {type(e).__name__}") from None
        try:
            data = json.loads(r.data)
        except ValueError:
            data = None
        return r.status, r.headers, data

    # ------------------------------------------------------------ trading

    def post_order(self, body: str):
        """(status|None, headers, json). None: sent or maybe sent, no answer - look it up."""
        try:
            return self.request("POST", "/order", body=body, auth=True)
        except TemporaryError:
            return None, {}, None

    def get_order(self, order_id: str) -> VenueOrder | None:
        """The venue's view of our order; None if it does not know it; TemporaryError if unsure."""
        status, _, data = self.request("GET", f"/data/order/{order_id}", auth=True)
        if status == 404 or (status == 200 and parse_order(data) is None):
            return None
        if status != 200:
            raise TemporaryError(f"GET /data/order: HTTP {status}")
        return parse_order(data)

    def trades_for_order(self, order_id: str, market: str = "") -> list[dict]:
        """Our recent trades in which `order_id` took or made liquidity."""
        status, _, data = self.request("GET", "/data/trades", params={"market": market} if market else None, auth=True)
        if status != 200 or not isinstance(data, dict):
            raise TemporaryError(f"GET /data/trades: HTTP {status}")
        return [t for t in data.get("data") or () if isinstance(t, dict) and (
            t.get("taker_order_id") == order_id or any(m.get("order_id") == order_id for m in t.get("maker_orders") or ()))]

    def heartbeat(self, heartbeat_id: str, timeout: float = 1.0):
        return self.request("POST", "/v1/heartbeats", body=clob.compact({"heartbeat_id": heartbeat_id}),
                            auth=True, timeout=timeout)

    # ------------------------------------------------------------ public market data

    def get_book(self, token_id: str) -> Book:
        status, _, data = self.request("GET", "/book", params={"token_id": token_id})
        if status != 200:
            raise TemporaryError(f"GET /book: HTTP {status}")
        return parse_book(data)

    def market_info(self, token_id: str) -> dict:
        """Slow path: /markets-by-token then /clob-markets (tick, neg-risk, tokens)."""
        status, _, data = self.request("GET", f"/markets-by-token/{token_id}")
        if status != 200 or not isinstance(data, dict) or not data.get("condition_id"):
            raise TemporaryError(f"GET /markets-by-token: HTTP {status}")
        cid = data["condition_id"]
        status, _, info = self.request("GET", f"/clob-markets/{cid}")
        if status != 200 or not isinstance(info, dict):
            raise TemporaryError(f"GET /clob-markets: HTTP {status}")
        return {"condition_id": cid, **info}

    # ------------------------------------------------------------ credentials (L1)

    def create_or_derive_api_key(self, signer: clob.ClobSigner, nonce: int = 0) -> clob.ApiCreds:
        status, _, data = self.request("POST", "/auth/api-key", headers=signer.l1_headers(nonce=nonce))
        if status != 200 or not isinstance(data, dict) or not data.get("apiKey"):
            status, _, data = self.request("GET", "/auth/derive-api-key", headers=signer.l1_headers(nonce=nonce))
        if status != 200 or not isinstance(data, dict) or not data.get("apiKey"):
            error = (data or {}).get("error", "") if isinstance(data, dict) else ""
            raise OperationalError(f"could not create or derive API credentials: HTTP {status} {error}".strip())
        return clob.ApiCreds(data["apiKey"], data["secret"], data["passphrase"])
