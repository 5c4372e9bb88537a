"""CLOB REST over kept-alive urllib3 connections (clients/http.py: TCP_NODELAY, explicit
timeouts, no retries). Answers are read with bounded JSON (wire/jsontext.py) and parsed by
wire/clob.py.

Every call returns what the venue said or raises `TemporaryError`; `post_order` never raises:
a send that got no answer is returned as status None (outcome unknown).
"""
from __future__ import annotations

from urllib.parse import urlencode

import urllib3

from polycopy.clients.http import pool
from polycopy.errors import Malformed, OperationalError, TemporaryError
from polycopy.venue import clob
from polycopy.wire.clob import Book, VenueOrder, parse_book, parse_order
from polycopy.wire.jsontext import loads

MAX_ANSWER_BYTES = 8 * 1024 * 1024


class ClobRest:
    def __init__(self, base_url: str, *, timeout_s: float = 2.5, connect_timeout_s: float = 1.0,
                 creds: clob.ApiCreds | None = None, address: str = ""):
        self.base = base_url.rstrip("/")
        self.timeout = (connect_timeout_s, timeout_s)
        self.creds, self.address = creds, address
        self.pool = pool(self.base)

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
            data = loads(r.data, max_bytes=MAX_ANSWER_BYTES, max_depth=16)
        except Malformed:
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
        rows = data.get("data") if isinstance(data.get("data"), list) else []
        return [t for t in rows if isinstance(t, dict) and (t.get("taker_order_id") == order_id or any(
            isinstance(m, dict) and m.get("order_id") == order_id for m in _list(t.get("maker_orders"))))]

    def heartbeat(self, heartbeat_id: str, timeout: float = 1.0):
        return self.request("POST", "/v1/heartbeats", body=clob.compact({"heartbeat_id": heartbeat_id}),
                            auth=True, timeout=timeout)

    # ------------------------------------------------------------ public market data

    def get_book(self, token_id: str) -> Book:
        status, _, data = self.request("GET", "/book", params={"token_id": token_id})
        if status != 200:
            raise TemporaryError(f"GET /book: HTTP {status}")
        return parse_book(data)

    # ------------------------------------------------------------ credentials (L1)

    def create_or_derive_api_key(self, signer: clob.ClobSigner, nonce: int = 0) -> clob.ApiCreds:
        status, _, data = self.request("POST", "/auth/api-key", headers=signer.l1_headers(nonce=nonce))
        if status != 200 or not isinstance(data, dict) or not data.get("apiKey"):
            status, _, data = self.request("GET", "/auth/derive-api-key", headers=signer.l1_headers(nonce=nonce))
        if status != 200 or not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data[k]
                                                                  for k in ("apiKey", "secret", "passphrase")):
            error = str(data.get("error", ""))[:200] if isinstance(data, dict) else ""
            raise OperationalError(f"could not create or derive API credentials: HTTP {status} {error}".strip())
        return clob.ApiCreds(data["apiKey"], data["secret"], data["passphrase"])


def _list(value) -> list:
    return value if isinstance(value, list) else []
