"""The relayer (`https://relayer-v2.polymarket.com`) on the routes SDK 0.14.0 calls for gasless
transactions (VENUE-2026-12.md §2.4; `_internal/actions/relayer/{deployed,nonce,submit,poll}.py`):

GET  /deployed?address=&type=                   {"deployed": bool}   (no auth, as the SDK calls it)
GET  /v1/account/transactions/params?address=&type=SAFE|WALLET   {"address", "nonce": "<digits>"}
GET  /relay-payload?address=&type=PROXY         {"address": <relay>, "nonce": "<digits>"}
POST /submit                                    {"transactionID", "state": "STATE_NEW", "transactionHash"}
GET  /v1/account/transactions/{id}              {"transaction_id", "transaction_hash", "state", "error_msg"?}

Every call but /deployed needs a Relayer or Builder API key (relayer_auth.py). A submit is
checked (relayer_sign.py: signer, wallet, nonce, calls; calls only to the venue's contracts,
else 400 "call blocked"), then moves STATE_NEW -> STATE_EXECUTED (the calls run on chain.py)
-> STATE_MINED (hash) -> STATE_CONFIRMED, `step_ms` apart; a revert ends STATE_FAILED with its
error. A redeem of a market the wallet holds nothing of ends STATE_FAILED "PRECHECK_SKIPPED:
redeem skipped: zero position balance" and runs nothing. `WALLET-CREATE` deploys the signer's
deposit wallet. Fault knobs: chain_faults.py. A wallet is deployed when the venue holds
balances for it or it was created here.
"""
from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections import Counter

from aiohttp import web
from eth_utils import to_checksum_address

from polymarket._internal.environment import PRODUCTION_CONFIG as CFG
from polymarket._internal.wallet import derive_beacon_deposit_wallet_address

from polycopy.sim import chain as c
from polycopy.sim.chain_faults import ChainFaults
from polycopy.sim.httputil import app_with_errors, reply
from polycopy.sim.relayer_auth import RelayerKeys, Unauthorized
from polycopy.sim.relayer_sign import Rejected, check_proxy, check_safe, check_wallet

RELAY = "0x5e1a7e0000000000000000000000000000005175"  # polysim's relay node (PROXY `relay`)
ALLOWED = {c.PUSD, c.CTF, c.ADAPTER, c.NEG_RISK_ADAPTER, c.ROUTER, c.POSITION_MANAGER,
           CFG.standard_exchange.lower(), CFG.neg_risk_exchange.lower(), CFG.exchange_v3.lower()}
PRECHECK = "PRECHECK_SKIPPED: redeem skipped: zero position balance"
BUSY = "wallet busy: wallet has an active action"
OWNER = web.RequestKey("owner", object)  # the API key's owner (None for a Builder key)


class Relayer:
    def __init__(self, chain, faults: ChainFaults, keys: RelayerKeys, chain_id: int = 137):
        self.chain, self.faults, self.keys, self.chain_id = chain, faults, keys, chain_id
        self.nonces: dict[tuple[str, str], int] = {}  # (signer, type) -> next nonce
        self.txs: dict[str, dict] = {}
        self.created: set[str] = set()  # deposit wallets deployed through WALLET-CREATE
        self.refused: Counter = Counter()  # answers the fault knobs gave: 429, 503, busy

    def app(self) -> web.Application:
        app = app_with_errors()
        app.middlewares.append(self._faults_and_auth)
        app.router.add_get("/deployed", self.deployed)
        app.router.add_get("/v1/account/transactions/params", self.params)
        app.router.add_get("/relay-payload", self.params)
        app.router.add_post("/submit", self.submit)
        app.router.add_get("/v1/account/transactions/{id}", self.transaction)
        return app

    @web.middleware
    async def _faults_and_auth(self, request: web.Request, handler):
        if request.path == "/deployed":
            return await handler(request)
        if self.faults.on("relayer_429_until"):
            self.refused["429"] += 1
            return reply({"error": "quota exceeded: too many requests"}, 429,
                         headers={"Retry-After": str(self.faults.retry_after_s)})
        if self.faults.on("relayer_503_until"):
            self.refused["503"] += 1
            return reply({"error": "service unavailable"}, 503)
        try:
            request[OWNER] = self.keys.check(request.headers, request.method, request.path,
                                               await request.read())
        except Unauthorized as exc:
            return reply({"error": str(exc)}, 401)
        return await handler(request)

    # -- reads -----------------------------------------------------------------------------
    async def deployed(self, request: web.Request) -> web.Response:
        try:
            address = to_checksum_address(request.query.get("address", ""))
        except ValueError:
            return reply({"error": "invalid address"}, 400)
        known = address in self.chain.venue.balances or address in self.chain.venue.holdings
        return reply({"deployed": known or address in self.created})

    async def params(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "")
        proxy = request.path == "/relay-payload"
        if kind not in (("PROXY",) if proxy else ("SAFE", "WALLET")):
            return reply({"error": f"invalid type {kind[:20]!r}"}, 400)
        try:
            signer = to_checksum_address(request.query.get("address", ""))
        except ValueError:
            return reply({"error": "invalid address"}, 400)
        nonce = str(self.nonces.get((signer, kind), 0))
        return reply({"address": RELAY if proxy else signer, "nonce": nonce})

    async def transaction(self, request: web.Request) -> web.Response:
        tx = self.txs.get(request.match_info["id"])
        if tx is None:
            return reply({"error": "transaction not found"}, 404)
        return reply({k: v for k, v in tx.items() if not k.startswith("_")})

    # -- submit ----------------------------------------------------------------------------
    async def submit(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise Rejected("invalid payload")
            return self._submit(body, request[OWNER])
        except (Rejected, ValueError, TypeError, KeyError, AttributeError) as exc:
            message = str(exc) if isinstance(exc, Rejected) else "invalid payload"
            return reply({"error": message}, 400)

    def _submit(self, body: dict, owner: str | None) -> web.Response:
        kind, signer = body.get("type"), to_checksum_address(str(body.get("from")))
        if kind == "WALLET-CREATE":
            if str(body.get("to", "")).lower() != CFG.wallet_derivation.deposit_wallet_factory.lower():
                raise Rejected("to must be the deposit wallet factory")
            wallet = derive_beacon_deposit_wallet_address(signer, CFG.wallet_derivation)
            self.created.add(to_checksum_address(wallet))
            return self._accept(body, signer, wallet, None)
        check = {"PROXY": lambda: check_proxy(body, RELAY, self.chain_id),
                 "SAFE": lambda: check_safe(body, self.chain_id),
                 "WALLET": lambda: check_wallet(body, self.chain_id)}.get(kind)
        if check is None:
            raise Rejected(f"invalid type {str(kind)[:20]!r}")
        wallet, calls = check()
        if owner is not None and owner not in (signer, wallet):
            return reply({"error": "api key does not belong to this wallet"}, 401)
        for i, (to, _data) in enumerate(calls):
            if to.lower() not in ALLOWED:
                raise Rejected(f"call blocked: call[{i}] blocked: calls to {to} are not permitted")
        if self.faults.on("wallet_busy_until"):
            self.refused["busy"] += 1
            raise Rejected(BUSY)
        want = self.nonces.get((signer, kind), 0)
        got = int(body["nonce"])
        if got != want:
            raise Rejected(f"batch nonce {got} does not match on-chain nonce {want}"
                           if kind == "WALLET" else f"invalid nonce {got}: expected {want}")
        if self.chain.zero_redeem(wallet, calls):
            return self._accept(body, signer, wallet, None, failed=PRECHECK)
        self.nonces[(signer, kind)] = want + 1
        return self._accept(body, signer, wallet, calls)

    def _accept(self, body, signer, wallet, calls, failed: str | None = None) -> web.Response:
        now = int(time.time())
        tx = {"transaction_id": str(uuid.uuid4()), "transaction_hash": "", "state": "STATE_NEW",
              "type": body.get("type"), "from": signer, "to": body.get("to"),
              "proxy_wallet": wallet, "metadata": str(body.get("metadata", ""))[:500],
              "created_at": now, "updated_at": now, "_calls": calls,
              "_fails": self.faults.on("tx_fails_until"),
              "_pending": self.faults.on("tx_pending_until")}
        self.txs[tx["transaction_id"]] = tx
        loop, step = asyncio.get_running_loop(), self.faults.step_ms / 1000
        if failed:
            loop.call_later(step, self._set, tx, "STATE_FAILED", failed)
        else:
            loop.call_later(step, self._execute, tx)
        return reply({"transactionID": tx["transaction_id"], "state": "STATE_NEW",
                      "transactionHash": ""})

    def _set(self, tx: dict, state: str, error: str | None = None) -> None:
        tx["state"], tx["updated_at"] = state, int(time.time())
        if error:
            tx["error_msg"] = error

    def _execute(self, tx: dict) -> None:
        tx["transaction_hash"] = "0x" + secrets.token_hex(32)
        if tx["_fails"]:
            return self._set(tx, "STATE_FAILED", "execution reverted: transaction failed")
        if tx["_calls"] is not None:
            try:
                self.chain.execute(tx["proxy_wallet"], tx["_calls"], tx["transaction_hash"])
            except c.Revert as exc:
                return self._set(tx, "STATE_FAILED", str(exc))
        self._set(tx, "STATE_EXECUTED")
        loop, step = asyncio.get_running_loop(), self.faults.step_ms / 1000
        loop.call_later(step, self._set, tx, "STATE_MINED")
        if not tx["_pending"]:
            loop.call_later(2 * step, self._set, tx, "STATE_CONFIRMED")
