"""A Polygon node's JSON-RPC websocket frames (MEMPOOL.md §2): the answer to our `eth_subscribe`
and the pending transactions it then pushes. Pure: no I/O."""
from __future__ import annotations

from dataclasses import dataclass

from polycopy.errors import Malformed
from polycopy.wire.jsontext import excerpt, loads

MAX_FRAME_BYTES = 4 * 1024 * 1024  # a transaction's calldata is at most ~128 KB
MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer to one of our requests: `result`, or `error` (its text)."""

    ok: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class PendingTx:
    hash: str
    to: str = ""
    input: str = ""
    full: bool = True  # False: the node pushed the bare hash (a hashes-only stream): nothing to decode


def parse_node_frame(text) -> Reply | PendingTx:
    """Raises Malformed (binary, size, depth, number, json, or "tx" for a notification whose
    transaction is not an object with a hash)."""
    if not isinstance(text, str):
        raise Malformed("binary", "binary frame", excerpt(text))
    msg = loads(text, max_bytes=MAX_FRAME_BYTES, max_depth=MAX_DEPTH)
    if not isinstance(msg, dict):
        raise Malformed("json", "not an object", excerpt(text))
    if msg.get("method") != "eth_subscription":
        err = msg.get("error")
        return Reply(ok="result" in msg and err is None, error=str(err)[:200] if err is not None else "")
    params = msg.get("params")
    tx = params.get("result") if isinstance(params, dict) else None
    if isinstance(tx, str):
        return PendingTx(hash=tx[:130], full=False)
    if not isinstance(tx, dict) or not isinstance(tx.get("hash"), str):
        raise Malformed("tx", "not a transaction object", excerpt(text))
    to, data = tx.get("to"), tx.get("input")
    return PendingTx(hash=tx["hash"][:130], to=to if isinstance(to, str) else "", input=data if isinstance(data, str) else "")
