"""The Polygon JSON-RPC methods an EOA needs to redeem (VENUE-2026-12.md §2.5; the SDK's
`_internal/eoa/broadcast.py` and `rpc.py`), answered by polysim's Polygon node (polygon.py)
over HTTP POST at "/" (batch arrays too):

eth_getTransactionCount (pending includes sent, unmined txs), eth_gasPrice (30 gwei),
eth_estimateGas (a dry run: a call that would revert is a -32000 "execution reverted"; a
PROXY factory `proxy(...)` estimate is a flat 200,000), eth_sendRawTransaction (a legacy
EIP-155 transaction: decoded, the sender recovered, chain id 137 and the nonce checked, then its
call runs on chain.py `step_ms` later and is mined with status 1, or 0 if it reverts),
eth_getTransactionReceipt and eth_getTransactionByHash (the node's tables), eth_call
(chain.py reads), eth_getBlockByNumber (the head, with the wall clock as timestamp),
eth_feeHistory (flat). Typed (EIP-1559) transactions are refused: the SDK signs legacy ones.
"""
from __future__ import annotations

import asyncio
import time

import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from polycopy.sim import chain as c

GAS_PRICE = 30 * 10**9
PROXY_GAS = 200_000
CALL_GAS = 150_000


class RpcError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def _address(value) -> str:
    try:
        return to_checksum_address(str(value))
    except ValueError:
        raise RpcError(-32602, "invalid address") from None


def _data(value) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(-32602, "invalid data")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise RpcError(-32602, "invalid data") from None


class EoaRpc:
    def __init__(self, chain: c.Chain, node, faults, chain_id: int = 137):
        self.chain, self.node, self.faults, self.chain_id = chain, node, faults, chain_id
        self.nonces: dict[str, int] = {}  # sender -> next nonce (pending included)
        self.methods = {
            "eth_getTransactionCount": self._count, "eth_gasPrice": lambda p: hex(GAS_PRICE),
            "eth_estimateGas": self._estimate, "eth_sendRawTransaction": self._send,
            "eth_call": self._call, "eth_getBlockByNumber": self._block,
            "eth_feeHistory": self._fee_history,
        }

    def run(self, method: str, params: list):
        """The result of `method` (one of `methods`); RpcError when it fails."""
        try:
            return self.methods[method](params)
        except RpcError:
            raise
        except (IndexError, KeyError, TypeError, ValueError, AttributeError):
            raise RpcError(-32602, f"invalid params for {method}") from None

    def _count(self, params: list) -> str:
        return hex(self.nonces.get(_address(params[0] if params else ""), 0))

    def _estimate(self, params: list) -> str:
        tx = params[0] if params and isinstance(params[0], dict) else {}
        to, data = str(tx.get("to", "")).lower(), _data(tx.get("data", "0x"))
        if data[:4].hex() == "34ee9791":  # the PROXY factory: what the SDK signs as gasLimit
            return hex(PROXY_GAS)
        try:
            self.chain.execute(_address(tx.get("from")), [(to, data)], dry=True)
        except c.Revert as exc:
            raise RpcError(-32000, str(exc)) from None
        return hex(CALL_GAS)

    def _call(self, params: list) -> str:
        tx = params[0] if params and isinstance(params[0], dict) else {}
        try:
            return "0x" + self.chain.call(str(tx.get("to", "")), _data(tx.get("data"))).hex()
        except c.Revert as exc:
            raise RpcError(3, str(exc)) from None
        except (ValueError, TypeError, OverflowError):
            raise RpcError(3, "execution reverted: bad calldata") from None

    def _block(self, params: list) -> dict:
        head = self.node.head()
        return {"number": hex(head), "hash": "0x" + keccak(head.to_bytes(8, "big")).hex(),
                "timestamp": hex(int(time.time())), "transactions": [],
                "baseFeePerGas": hex(GAS_PRICE // 2), "gasLimit": hex(30_000_000)}

    def _fee_history(self, params: list) -> dict:
        blocks = int(params[0], 16) if params and isinstance(params[0], str) else 1
        blocks = max(1, min(blocks, 64))
        return {"oldestBlock": hex(self.node.head() - blocks + 1),
                "baseFeePerGas": [hex(GAS_PRICE // 2)] * (blocks + 1),
                "gasUsedRatio": [0.5] * blocks, "reward": [[hex(GAS_PRICE // 2)]] * blocks}

    def _send(self, params: list) -> str:
        raw = _data(params[0] if params else None)
        if not raw or raw[0] < 0x80:
            raise RpcError(-32602, "only legacy (type 0) transactions are accepted")
        try:
            nonce, gas_price, gas, to, value, data, v, _r, _s = rlp.decode(raw)
            sender = Account.recover_transaction(raw)
        except Exception:  # noqa: BLE001 - any undecodable transaction
            raise RpcError(-32602, "invalid raw transaction") from None
        v = int.from_bytes(v, "big")
        if v not in (self.chain_id * 2 + 35, self.chain_id * 2 + 36):
            raise RpcError(-32000, "invalid chain id (EIP-155 with chain 137 expected)")
        nonce, expected = int.from_bytes(nonce, "big"), self.nonces.get(sender, 0)
        if nonce != expected:
            raise RpcError(-32000, f"nonce too {'low' if nonce < expected else 'high'}: "
                                   f"next nonce {expected}, tx nonce {nonce}")
        self.nonces[sender] = expected + 1
        tx_hash = "0x" + keccak(raw).hex()
        tx = {"hash": tx_hash, "from": sender.lower(), "to": "0x" + to.hex(), "input": "0x" + data.hex(),
              "nonce": hex(nonce), "gas": hex(int.from_bytes(gas, "big")),
              "gasPrice": hex(int.from_bytes(gas_price, "big")), "value": hex(int.from_bytes(value, "big")),
              "type": "0x0", "chainId": hex(self.chain_id), "blockHash": None, "blockNumber": None,
              "transactionIndex": None}
        self.node.txs[tx_hash] = tx
        if not self.faults.on("eoa_pending_until"):
            reverts = self.faults.on("eoa_reverts_until")
            asyncio.get_running_loop().call_later(self.faults.step_ms / 1000, self._mine, tx,
                                                  sender, to, data, reverts)
        return tx_hash

    def _mine(self, tx: dict, sender: str, to: bytes, data: bytes, reverts: bool) -> None:
        ok = not reverts
        if ok:
            try:
                self.chain.execute(sender, [("0x" + to.hex(), data)], tx["hash"])
            except c.Revert:
                ok = False
        head = self.node.head()
        where = {"blockHash": "0x" + keccak(head.to_bytes(8, "big")).hex(),
                 "blockNumber": hex(head), "transactionIndex": "0x0"}
        self.node.txs[tx["hash"]] = {**tx, **where}
        self.node.receipts[tx["hash"]] = {
            "transactionHash": tx["hash"], **where, "from": tx["from"], "to": tx["to"],
            "cumulativeGasUsed": hex(CALL_GAS), "gasUsed": hex(CALL_GAS),
            "effectiveGasPrice": tx["gasPrice"], "contractAddress": None, "type": "0x0",
            "logs": [], "logsBloom": "0x" + "00" * 256, "status": "0x1" if ok else "0x0"}
