"""Test helpers: a venue served on a background loop, order signing, L2 headers."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from decimal import Decimal
from pathlib import Path

import requests
from aiohttp import web
from coincurve import PrivateKey
from eth_utils import keccak, to_checksum_address

from polycopy.sim.model import SimMarket
from polycopy.sim.venue import Venue, build_clob_app, build_clob_ws_app
from polycopy.sim.venue.auth import hmac_signature
from polycopy.sim.venue.orders import SignedOrder, order_digest
from tests.conftest import POLYMARKET

SHARED = POLYMARKET
HARDHAT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_ADDR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # Hardhat #1
OTHER_ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ZERO32 = "0x" + "00" * 32
# CTF-like token ids (bits 40-103 set): the SDK signs small ids as V2 position ids
T1 = "7005504798469425412012612933705503190525372485931692359699852318225666004736"
T2 = "909448278114396783571878505665430662117711139470803521219680339596626167810"


def load(name: str) -> dict:
    return json.loads((SHARED / name).read_text())


def market(token_ids: tuple[str, str] = (T1, T2), **kw) -> SimMarket:
    args = dict(condition_id="0x" + "ab" * 32, question="Up or down?", slug="up-or-down",
                event_slug="up-or-down", tokens=list(token_ids), outcomes=["Up", "Down"],
                start_ts=0, end_ts=2_000_000_000)
    args.update(kw)
    return SimMarket(**args)


def sign_order(venue: Venue, *, private_key: str, token: str, side: str, maker_amount: int,
               taker_amount: int, maker: str | None = None, salt: int = 1,
               order_type: str = "GTC", owner: str, post_only: bool = False,
               expiration: int = 0) -> dict:
    """A V2 POST /order body signed with `private_key` (signature type 0)."""
    pk = PrivateKey(bytes.fromhex(private_key[2:]))
    signer = to_checksum_address(keccak(pk.public_key.format(compressed=False)[1:])[-20:])
    o = SignedOrder(salt=salt, maker=maker or signer, signer=signer, token_id=token,
                    maker_amount=maker_amount, taker_amount=taker_amount, side=side,
                    expiration=expiration, signature_type=0,
                    timestamp=int(time.time() * 1000), metadata=ZERO32, builder=ZERO32,
                    signature="0x")
    digest = order_digest(o, venue.separator_for(venue.market_for_token(token)))
    raw = pk.sign_recoverable(digest, hasher=None)
    sig = "0x" + (raw[:64] + bytes([raw[64] + 27])).hex()
    order = {"salt": salt, "maker": o.maker, "signer": signer, "tokenId": token,
             "makerAmount": str(maker_amount), "takerAmount": str(taker_amount), "side": side,
             "expiration": str(expiration), "signatureType": 0,
             "timestamp": str(o.timestamp), "metadata": ZERO32, "builder": ZERO32,
             "signature": sig}
    body = {"order": order, "owner": owner, "orderType": order_type, "deferExec": False}
    if post_only:
        body["postOnly"] = True
    return body


def l2_headers(api, method: str, path: str, body: str = "") -> dict:
    ts = str(int(time.time()))
    return {"POLY_ADDRESS": api.address, "POLY_API_KEY": api.key,
            "POLY_PASSPHRASE": api.passphrase, "POLY_TIMESTAMP": ts,
            "POLY_SIGNATURE": hmac_signature(api.secret, ts, method, path, body.encode()),
            "Content-Type": "application/json"}


class LoopServer:
    """Both venue apps on 127.0.0.1 (random ports), on a loop in a background thread."""

    def __init__(self, venue: Venue):
        self.venue = venue
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.clob_port, self.ws_port = self.run(self._start())
        self.url = f"http://127.0.0.1:{self.clob_port}"
        self.ws_url = f"ws://127.0.0.1:{self.ws_port}"
        self.http = requests.Session()

    async def _start(self) -> tuple[int, int]:
        self._runners = []
        ports = []
        for app in (build_clob_app(self.venue), build_clob_ws_app(self.venue)):
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self._runners.append(runner)
            ports.append(runner.addresses[0][1])
        return ports[0], ports[1]

    def run(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, *args, **kwargs):
        """Run a plain function on the venue's loop (state is touched from there only)."""
        async def wrapper():
            return fn(*args, **kwargs)
        return self.run(wrapper())

    def request(self, method: str, path: str, api=None, body: object = None,
                raw: str | None = None, params: dict | None = None):
        data = raw if raw is not None else (
            json.dumps(body, separators=(",", ":")) if body is not None else "")
        headers = l2_headers(api, method, path, data) if api else {}
        return self.http.request(method, self.url + path, data=data.encode() or None,
                                 headers=headers, params=params, timeout=10)

    def close(self) -> None:
        self.http.close()

        async def stop():
            for runner in self._runners:
                await runner.cleanup()
        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not met before the deadline")


D = Decimal
