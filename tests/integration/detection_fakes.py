"""Small loopback stand-ins for RTDS and the Data API, for the detection tests (polysim not ready).

FakeRtds: a websockets server; `send_fill` broadcasts an activity frame, `noise` keeps the feed
alive with other wallets' frames, `stalled` silences it without closing, `drop()` closes every
socket, `refuse` rejects new connections. FakeDataApi: `/v2/trades` newest first in the v2
envelope with an offset cursor, `fail` queues error statuses (with Retry-After); the retired
v1 `/trades` answers 410.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from websockets.asyncio.server import serve
from websockets.http11 import Response
from websockets.datastructures import Headers

SOURCE = "0x1d0034134e339a309700ff2d34e99fa2d48b0313"
SOURCE_MIXED = "0x1D0034134e339A309700ff2D34E99fa2d48B0313"
OTHER = "0x510F4963b66B1B18505faaB74b0bB943D1dDa43C"


def _num(d):
    return int(d) if d == d.to_integral_value() else float(d)


def payload(tx, *, wallet=SOURCE_MIXED, token="11", side="BUY", price="0.5", size="5", ts=None, slug="btc-updown-15m-1787102100"):
    return {"asset": token, "conditionId": "0xc0", "side": side, "price": _num(Decimal(price)), "size": _num(Decimal(size)),
            "timestamp": int(time.time()) if ts is None else ts, "proxyWallet": wallet, "transactionHash": tx,
            "outcome": "Up", "outcomeIndex": 0, "slug": slug, "eventSlug": slug, "title": "t", "name": "", "bio": ""}


def frame(p, kind="trades"):
    return json.dumps({"topic": "activity", "type": kind, "timestamp": time.time_ns() // 1_000_000, "payload": p,
                       "connection_id": "c"}, separators=(",", ":"))


class FakeRtds:
    def __init__(self, noise_every_s: float = 0.05):
        self.noise_every_s = noise_every_s
        self.noise = True
        self.stalled = False
        self.refuse = False
        self.received: list[str] = []
        self.accepted = 0
        self.attempts = 0
        self.conns: set = set()
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(5)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self.loop.close()

    async def _main(self):
        self._stop = self.loop.create_future()
        async with serve(self._handle, "127.0.0.1", 0, process_request=self._gate) as server:
            self.port = server.sockets[0].getsockname()[1]
            self.url = f"ws://127.0.0.1:{self.port}"
            noise = asyncio.create_task(self._noise())
            self._ready.set()
            await self._stop
            noise.cancel()

    def _gate(self, connection, request):
        self.attempts += 1
        if self.refuse:
            return Response(503, "Service Unavailable", Headers(), b"down\n")
        return None

    async def _handle(self, ws):
        self.accepted += 1
        self.conns.add(ws)
        try:
            async for text in ws:
                self.received.append(text)
                if text == "PING":
                    await ws.send("PONG")
        except Exception:
            pass
        finally:
            self.conns.discard(ws)

    async def _noise(self):
        n = 0
        while True:
            await asyncio.sleep(self.noise_every_s)
            if self.noise and not self.stalled:
                n += 1
                await self._broadcast(frame(payload(f"0xnoise{n}", wallet=OTHER)))

    async def _broadcast(self, text):
        for ws in list(self.conns):
            try:
                await ws.send(text)
            except Exception:
                pass

    def send(self, text: str) -> None:
        """Broadcast raw text to every socket (unless stalled); returns once sent."""
        if not self.stalled:
            asyncio.run_coroutine_threadsafe(self._broadcast(text), self.loop).result(5)

    def send_fill(self, tx, kind="trades", **kw):
        self.send(frame(payload(tx, **kw), kind))

    def drop(self):
        async def close_all():
            await asyncio.gather(*(ws.close() for ws in list(self.conns)), return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(5)

    def connected(self) -> int:
        return len(self.conns)


class Raw(str):
    """A Data API row given as its JSON text, served verbatim (hostile rows json.dumps cannot make)."""


class FakeDataApi:
    def __init__(self):
        self.rows: list[dict] = []  # newest first
        self.fail: list[tuple[int, str | None]] = []  # (status, Retry-After) answered before rows
        self.requests: list[tuple[float, dict]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                with fake.lock:
                    fake.requests.append((time.monotonic(), q))
                    failure = fake.fail.pop(0) if fake.fail else None
                    rows = [r for r in fake.rows if not isinstance(r, dict) or r.get("proxy_wallet") == q.get("user", "").lower()]
                if url.path != "/v2/trades":
                    return self._reply(410 if url.path == "/trades" else 404, b'{"error":"gone"}')
                if failure:
                    status, retry_after = failure
                    return self._reply(status, b'{"error":"slow down"}', {"Retry-After": retry_after} if retry_after else {})
                offset, limit = int(q.get("cursor", 0)), int(q.get("limit", 100))
                more = offset + limit < len(rows)
                page = ",".join(r if isinstance(r, Raw) else json.dumps(r) for r in rows[offset: offset + limit])
                cursor = json.dumps(str(offset + limit) if more else None)
                body = f'{{"data":[{page}],"pagination":{{"has_more":{json.dumps(more)},"next_cursor":{cursor}}}}}'
                self._reply(200, body.encode())

            def _reply(self, status, body, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def add(self, tx, **kw):
        """A new fill appears at the top of the listing (v2 rows: snake_case, lowercase wallet)."""
        self.add_row(v2_row(payload(tx, **kw)))

    def add_row(self, row):
        """Any row at the top of the listing (a hostile one too)."""
        with self.lock:
            self.rows.insert(0, row)


V2_KEYS = {"proxyWallet": "proxy_wallet", "asset": "token_id", "conditionId": "condition_id",
           "transactionHash": "transaction_hash", "eventSlug": "event_slug", "outcomeIndex": "outcome_index"}


def v2_row(p: dict) -> dict:
    """An RTDS payload in the Data API v2 spelling, amounts as strings (PROTOCOL.md §3.2)."""
    row = {V2_KEYS.get(k, k): (str(v) if k in ("size", "price") else v) for k, v in p.items()}
    row["proxy_wallet"] = row["proxy_wallet"].lower()
    return row
