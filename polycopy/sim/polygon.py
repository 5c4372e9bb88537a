"""A Polygon node on loopback: the operator's settlement transactions, pending then mined.

JSON-RPC over a websocket (and plain HTTP POST) at "/": `eth_subscribe` with
`["newPendingTransactions", true]` (full objects), `["newPendingTransactions"]` (hashes),
`["alchemy_pendingTransactions", {"toAddress": [...], "hashesOnly": false}]` (filtered, MEMPOOL.md
§5), `eth_unsubscribe`, `eth_getTransactionByHash`, `eth_getTransactionReceipt`, `eth_blockNumber`,
`eth_chainId`; with `rpc` set (eoa_rpc.py), the methods an EOA redeems with. HTTP takes batch
arrays too. Every method runs on the loop thread that serves the app.

`on_transaction(rows)` (the driver's rows of one source transaction) or `settle(settlement,
tx_hash)` schedules the settlement: pending after `pending_delay_ms` (+ up to `jitter_ms`, which
reorders deliveries), mined after `block_delay_ms`. Knobs (`PolygonFaults`): a share never seen
pending, a share that reverts, a share dropped (never mined), and a share retried: the first
attempt under another hash reverts, the second under `tx_hash` (the hash RTDS reports) succeeds.
The calldata is `polycopy.venue.mempool.encode_calldata` of the same structs the bot decodes;
transaction hashes are the driver's, not keccak of a signed transaction (r, s are fillers).
Longer than 250 lines because the websocket plumbing, the JSON-RPC dispatch and the
settlement schedule share the node's tables; the EOA methods live in eoa_rpc.py.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web
from eth_utils import keccak

from polycopy.sim.eoa_rpc import RpcError
from polycopy.sim.polygon_orders import receipt_logs, settlements_from_rows
from polycopy.venue.mempool import Settlement, encode_calldata

PREAPPROVE = "0xe3a5ced5"
KEEP = 20_000  # transactions and receipts remembered (oldest forgotten first)


@dataclass
class PolygonFaults:
    pending_delay_ms: int = 650  # match -> in the node's mempool (MEMPOOL.md §3 median)
    block_delay_ms: int = 2200  # match -> mined
    jitter_ms: int = 0  # extra random delay per notification: out-of-order delivery
    unseen_share: float = 0.0  # straight into a block, never pending
    revert_share: float = 0.0  # mined with status 0
    drop_share: float = 0.0  # pending, never mined
    retry_share: float = 0.0  # first attempt reverts; retried under the reported hash
    retry_delay_ms: int = 1500
    noise_per_s: float = 0.0  # unrelated pending transactions (transfers, preapproveOrder)


@dataclass
class Attempt:
    hash: str
    outcome: str  # "mined" | "reverted" | "dropped"
    pending: bool  # broadcast to subscribers
    pending_s: float  # seconds after the match
    mined_s: float  # ignored when dropped


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    subs: dict = field(default_factory=dict)  # sub id -> (full: bool, to-filter or None)


class Polygon:
    def __init__(self, faults: PolygonFaults | None = None, seed: int = 1, chain_id: int = 137,
                 block_time_s: float = 2.0):
        self.faults = faults or PolygonFaults()
        self.rng = random.Random(seed)
        self.chain_id, self.block_time_s = chain_id, block_time_s
        self.t0 = time.monotonic()
        self.txs: dict[str, dict] = {}
        self.receipts: dict[str, dict] = {}
        self.attempts: deque[Attempt] = deque(maxlen=KEEP)
        self.conns: set[_Conn] = set()
        self.operators = ["0x%040x" % self.rng.getrandbits(160) for _ in range(50)]
        self.rpc = None  # an EoaRpc: eth_sendRawTransaction, eth_call, ... (eoa_rpc.py)
        self._nonce = 0x1000

    # ------------------------------------------------------------ the app

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._websocket)
        app.router.add_post("/", self._http)
        app.on_startup.append(self._start_noise)
        app.on_shutdown.append(self._close_all)
        app.on_cleanup.append(self._stop_noise)
        return app

    async def _http(self, request: web.Request) -> web.Response:
        try:
            text = (await request.read()).decode()
        except UnicodeDecodeError:
            text = ""
        try:
            batch = json.loads(text)
        except ValueError:
            batch = None
        if isinstance(batch, list):  # a JSON-RPC batch: one answer per request
            if not 0 < len(batch) <= 100:
                return web.Response(text=_error(None, -32600, "batch of 1..100 requests"),
                                    content_type="application/json")
            replies = [self.handle(json.dumps(item), None) for item in batch]
            return web.Response(text="[" + ",".join(r for r in replies if r) + "]",
                                content_type="application/json")
        reply = self.handle(text, None)
        return web.Response(text=reply or "", content_type="application/json")

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=2**22)
        await ws.prepare(request)
        conn = _Conn(ws)
        self.conns.add(conn)
        writer = asyncio.create_task(self._write(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    reply = self.handle(msg.data, conn)
                    if reply:
                        conn.queue.put_nowait(reply)
        finally:
            self.conns.discard(conn)
            writer.cancel()
        return ws

    async def _write(self, conn: _Conn) -> None:
        while True:
            text = await conn.queue.get()
            try:
                await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def _close_all(self, app=None) -> None:
        for conn in list(self.conns):
            await conn.ws.close()

    def drop_connections(self) -> None:
        """Close every websocket (a node that hangs up); call on the loop thread."""
        asyncio.get_running_loop().create_task(self._close_all())

    # ------------------------------------------------------------ JSON-RPC

    def handle(self, text: str, conn: _Conn | None) -> str | None:
        try:
            req = json.loads(text)
        except ValueError:
            return _error(None, -32700, "parse error")
        if not isinstance(req, dict) or not isinstance(req.get("method"), str):
            return _error(None, -32600, "invalid request")
        rid, method, params = req.get("id"), req["method"], req.get("params") or []
        if not isinstance(params, list):
            return _error(rid, -32602, "params must be an array")
        if method == "eth_subscribe":
            return self._subscribe(rid, params, conn)
        if method == "eth_unsubscribe":
            found = conn is not None and bool(params) and conn.subs.pop(params[0], None) is not None
            return _result(rid, found)
        if method == "eth_blockNumber":
            return _result(rid, hex(self.head()))
        if method == "eth_chainId":
            return _result(rid, hex(self.chain_id))
        if method in ("eth_getTransactionByHash", "eth_getTransactionReceipt"):
            if len(params) != 1 or not isinstance(params[0], str):
                return _error(rid, -32602, "one transaction hash expected")
            table = self.txs if method == "eth_getTransactionByHash" else self.receipts
            return _result(rid, table.get(params[0].lower()))
        if self.rpc is not None and method in self.rpc.methods:
            try:
                return _result(rid, self.rpc.run(method, params))
            except RpcError as exc:
                return _error(rid, exc.code, str(exc))
        return _error(rid, -32601, f"the method {method[:60]} does not exist/is not available")

    def _subscribe(self, rid, params: list, conn: _Conn | None) -> str:
        if conn is None:
            return _error(rid, -32601, "notifications not supported")
        kind = params[0] if params else None
        if kind == "newPendingTransactions":
            full, to = len(params) > 1 and params[1] is True, None
        elif kind == "alchemy_pendingTransactions":
            opts = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
            full = not opts.get("hashesOnly", False)
            to = {a.lower() for a in opts.get("toAddress") or [] if isinstance(a, str)} or None
        else:
            return _error(rid, -32602, f"unsupported subscription {str(kind)[:40]}")
        sub = "0x%032x" % self.rng.getrandbits(128)
        conn.subs[sub] = (full, to)
        return _result(rid, sub)

    def head(self) -> int:
        return 60_000_000 + int((time.monotonic() - self.t0) / self.block_time_s)

    # ------------------------------------------------------------ settlements

    def on_transaction(self, rows: list) -> list[Attempt]:
        """The driver's rows of one source transaction -> its settlement(s), scheduled."""
        out = []
        for settlement, tx_hash in settlements_from_rows(rows, self.rng):
            out += self.settle(settlement, tx_hash)
        return out

    def settle(self, s: Settlement, tx_hash: str) -> list[Attempt]:
        f, r = self.faults, self.rng.random()
        tx_hash, data = tx_hash.lower(), encode_calldata(s)
        pend, mine = f.pending_delay_ms / 1000, f.block_delay_ms / 1000
        cuts = [f.unseen_share, f.revert_share, f.drop_share, f.retry_share]
        if r < cuts[0]:
            plan = [Attempt(tx_hash, "mined", False, pend, mine)]
        elif r < sum(cuts[:2]):
            plan = [Attempt(tx_hash, "reverted", True, pend, mine)]
        elif r < sum(cuts[:3]):
            plan = [Attempt(tx_hash, "dropped", True, pend, mine)]
        elif r < sum(cuts):
            retry = f.retry_delay_ms / 1000
            first = "0x" + keccak(text=f"retry:{tx_hash}").hex()
            plan = [Attempt(first, "reverted", True, pend, mine),
                    Attempt(tx_hash, "mined", True, pend + retry, mine + retry)]
        else:
            plan = [Attempt(tx_hash, "mined", True, pend, mine)]
        loop = asyncio.get_running_loop()
        for a in plan:
            tx = self._tx(a.hash, s.exchange, data)
            if a.pending:
                loop.call_later(a.pending_s + self._jitter(), self.publish_pending, tx)
            if a.outcome != "dropped":
                loop.call_later(max(a.mined_s, a.pending_s), self._mine, tx, s, a.outcome == "mined")
        self.attempts += plan
        return plan

    def _jitter(self) -> float:
        return self.rng.uniform(0, self.faults.jitter_ms / 1000) if self.faults.jitter_ms else 0.0

    def _tx(self, tx_hash: str, to: str, data: str) -> dict:
        self._nonce += 1
        return {"blockHash": None, "blockNumber": None, "transactionIndex": None,
                "from": self.rng.choice(self.operators), "to": to, "nonce": hex(self._nonce), "value": "0x0",
                "gas": "0x149970", "gasPrice": "0x22ecb25c00", "maxFeePerGas": "0x22ecb25c00",
                "maxPriorityFeePerGas": "0x9502f9000", "input": data, "hash": tx_hash, "type": "0x2",
                "accessList": [], "chainId": hex(self.chain_id), "v": "0x0", "yParity": "0x0",
                "r": "0x" + keccak(text="r" + tx_hash).hex(), "s": "0x" + keccak(text="s" + tx_hash).hex()}

    def publish_pending(self, tx: dict) -> None:
        """Send one pending transaction to every matching subscription (also used for noise)."""
        if tx["hash"] not in self.txs:
            _remember(self.txs, tx["hash"], tx)
        for conn in list(self.conns):
            for sub, (full, to) in conn.subs.items():
                if to is None or (tx.get("to") or "").lower() in to:
                    note = {"jsonrpc": "2.0", "method": "eth_subscription",
                            "params": {"subscription": sub, "result": tx if full else tx["hash"]}}
                    conn.queue.put_nowait(json.dumps(note, separators=(",", ":")))

    def _mine(self, tx: dict, s: Settlement, ok: bool) -> None:
        block = self.head()
        where = {"blockHash": "0x" + keccak(block.to_bytes(8, "big")).hex(), "blockNumber": hex(block),
                 "transactionIndex": "0x0"}
        _remember(self.txs, tx["hash"], {**tx, **where})
        _remember(self.receipts, tx["hash"], {
            "transactionHash": tx["hash"], **where, "from": tx["from"], "to": tx["to"], "cumulativeGasUsed": "0x10000",
            "gasUsed": "0x10000", "effectiveGasPrice": tx["gasPrice"], "contractAddress": None, "type": "0x2",
            "logs": receipt_logs(s, tx, where) if ok else [], "logsBloom": "0x" + "00" * 256,
            "status": "0x1" if ok else "0x0"})

    async def _start_noise(self, app) -> None:
        self._noise_task = asyncio.create_task(self._noise())

    async def _stop_noise(self, app) -> None:
        self._noise_task.cancel()
        await asyncio.gather(self._noise_task, return_exceptions=True)

    async def _noise(self) -> None:
        while True:
            rate = self.faults.noise_per_s
            await asyncio.sleep(self.rng.expovariate(rate) if rate > 0 else 0.5)
            if rate <= 0:
                continue
            h = "0x%064x" % self.rng.getrandbits(256)
            if self.rng.random() < 0.2:  # an operator call we do not decode
                to, data = "0xe111180000d2663c0091e4f400237545b87b996b", PREAPPROVE + "00" * 64
            else:
                to, data = "0x%040x" % self.rng.getrandbits(160), "0x"
            self.publish_pending(self._tx(h, to, data))


def _remember(table: dict, key: str, value: dict) -> None:
    table[key] = value
    while len(table) > KEEP:
        del table[next(iter(table))]


def _result(rid, value) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": rid, "result": value}, separators=(",", ":"))


def _error(rid, code: int, message: str) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}},
                      separators=(",", ":"))
