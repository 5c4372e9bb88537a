"""RTDS `activity` frames -> SourceFill (PROTOCOL.md §1). Pure: no I/O.

Envelope `{topic, type, timestamp (ms), payload, connection_id}`; payload rows are the Trade
schema (camelCase, numbers, seconds). Text that is not JSON at all (`""`, `PONG`) is a
keep-alive and ignored; broken JSON, a bad envelope or row, or a topic/type we did not ask for
raise `Malformed` with a kind the watcher counts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from polycopy.messages import SourceFill
from polycopy.venue.source_fill import BadRow, Occurrences, fill_from_row, wallet_of

TOPIC = "activity"
TYPES = ("trades", "orders_matched")
PING = "PING"
# Compact separators: the server string-matches subscription text (§1.2).
SUBSCRIBE = json.dumps(
    {"action": "subscribe", "subscriptions": [{"topic": TOPIC, "type": t} for t in TYPES]},
    separators=(",", ":"),
)


class Malformed(ValueError):
    """kind: "json" (broken or truncated), "envelope", "payload", "unknown" (topic/type)."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Frame:
    topic: str
    type: str
    envelope_ts_ms: int
    payload: dict


def parse_frame(text: str | bytes) -> Frame | None:
    """One websocket text frame -> Frame, or None for a keep-alive. Raises Malformed."""
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError:
            raise Malformed("json", "binary frame") from None
    s = text.strip()
    if not s or s[0] not in "{[":
        return None  # "", "PONG", "pong": keep-alive answers
    try:
        obj = json.loads(s, parse_float=Decimal)
    except ValueError as e:
        raise Malformed("json", str(e)[:80]) from None
    if not isinstance(obj, dict) or "payload" not in obj:
        raise Malformed("envelope", "no payload")
    topic, kind = obj.get("topic"), obj.get("type")
    if topic != TOPIC or kind not in TYPES:
        raise Malformed("unknown", f"{str(topic)[:30]}/{str(kind)[:30]}")
    ts = obj.get("timestamp", 0)
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise Malformed("envelope", "timestamp not an integer")
    if not isinstance(obj["payload"], dict):
        raise Malformed("payload", "not an object")
    return Frame(topic=topic, type=kind, envelope_ts_ms=ts, payload=obj["payload"])


def is_from(frame: Frame, wallet: str) -> bool:
    """Case-insensitive: RTDS sends the checksummed address."""
    return wallet_of(frame.payload) == wallet.lower()


def frame_fill(frame: Frame, *, recv_mono_ns: int, occurrences: Occurrences) -> SourceFill:
    """The source fill in a frame already filtered by `is_from`. Raises Malformed("payload")."""
    try:
        return fill_from_row(
            frame.payload, feed="rtds", recv_mono_ns=recv_mono_ns, envelope_ts_ms=frame.envelope_ts_ms,
            occurrence=lambda base: occurrences.next(frame.type, base),
        )
    except BadRow as e:
        raise Malformed("payload", str(e)) from None
