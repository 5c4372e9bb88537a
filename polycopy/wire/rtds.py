"""RTDS `activity` frames (PROTOCOL.md §1, VENUE-2026-12.md §4). Pure: no I/O.

Envelope `{topic, type, timestamp (ms), payload, connection_id}`; the payload is the Trade
schema in camelCase (numbers, seconds). Text that is not JSON at all (`""`, `PONG`) is a
keep-alive: None. Everything else that is not an activity frame of a type we asked for raises
`Malformed` (kinds: binary, size, depth, number, json, envelope, unknown, or the payload key
at fault). The wallet filter (`wallet_of`) reads one key, so other wallets' frames (~50/s)
cost no more than the envelope; only the source's payloads are parsed in full.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from polycopy.errors import Malformed
from polycopy.wire import fields as f
from polycopy.wire.jsontext import excerpt, loads
from polycopy.wire.trade import Spelling, Trade, parse_trade

TOPIC = "activity"
TYPES = ("trades", "orders_matched")
PING = "PING"
MAX_FRAME_BYTES = 256 * 1024  # real frames are ~1 KB
MAX_DEPTH = 8  # envelope -> payload -> a value: 3
# Compact separators: the server string-matches subscription text (§1.2).
SUBSCRIBE = json.dumps(
    {"action": "subscribe", "subscriptions": [{"topic": TOPIC, "type": t} for t in TYPES]},
    separators=(",", ":"),
)
PAYLOAD = Spelling(wallet="proxyWallet", token_id="asset", condition_id="conditionId", side="side", price="price",
                   size="size", ts_s="timestamp", tx_hash="transactionHash")


@dataclass(frozen=True, slots=True)
class Frame:
    type: str  # trades | orders_matched
    envelope_ts_ms: int
    payload: dict  # read only through wallet_of / frame_trade


def parse_frame(text, now_s: float) -> Frame | None:
    """One websocket frame -> Frame, or None for a keep-alive. Raises Malformed."""
    if not isinstance(text, str):
        raise Malformed("binary", "binary frame", excerpt(text))
    s = text.strip()
    if not s or s[0] not in "{[":
        return None  # "", "PONG", "pong": keep-alive answers
    obj = loads(s, max_bytes=MAX_FRAME_BYTES, max_depth=MAX_DEPTH)
    if not isinstance(obj, dict) or "payload" not in obj:
        raise Malformed("envelope", "no payload", excerpt(s))
    topic, kind = obj.get("topic"), obj.get("type")
    if topic != TOPIC or kind not in TYPES:
        raise Malformed("unknown", f"{str(topic)[:30]}/{str(kind)[:30]}", excerpt(s))
    try:
        ts_ms = f.integer(obj.get("timestamp", 0), "timestamp")
        if ts_ms and not (now_s - f.PAST_S) * 1000 <= ts_ms <= (now_s + f.FUTURE_S) * 1000:
            raise Malformed("timestamp", "envelope timestamp out of range")
        payload = f.obj(obj["payload"], "payload")
    except Malformed as e:
        raise Malformed("envelope", f"{e}", excerpt(s)) from None
    return Frame(type=kind, envelope_ts_ms=ts_ms, payload=payload)


def wallet_of(frame: Frame) -> str:
    """The payload's wallet, lowercase ("" if absent): RTDS sends it checksummed."""
    w = frame.payload.get("proxyWallet")
    return w.lower() if isinstance(w, str) else ""


def frame_trade(frame: Frame, now_s: float) -> Trade:
    """The payload as a Trade (call it for the source's frames only). Raises Malformed."""
    try:
        return parse_trade(frame.payload, PAYLOAD, now_s)
    except Malformed as e:
        e.excerpt = excerpt(json.dumps(frame.payload, default=str))
        raise
