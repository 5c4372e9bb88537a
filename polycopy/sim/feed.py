"""The feed hub: every published fill, the source-fill records, and the lags between them.

A transaction's fills are published once, at their scheduled time. RTDS gets them after the
per-type lag (`orders_matched`: taker row only; `trades`: taker plus maker rows, §1.6); the
Data API shows them once `data_api_lag_ms` has passed since the fill (checked at query time,
so a lag changed at run time applies at once).
"""
from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from dataclasses import dataclass

from polycopy.sim.hostile import hostile_frame
from polycopy.sim.model import FeedFaults
from polycopy.sim.wire import Fill, rtds_payload

RTDS_TYPES = ("orders_matched", "trades")
KEEP_ROWS = 100_000  # all wallets, for /trades?market=
KEEP_PER_WALLET = 5_000


@dataclass(frozen=True)
class Clock:
    """Scenario time: t seconds after the start, on the monotonic and the wall clock."""

    start_mono_ns: int
    start_unix: float

    @classmethod
    def now(cls) -> "Clock":
        return cls(time.monotonic_ns(), time.time())

    def t(self) -> float:
        return (time.monotonic_ns() - self.start_mono_ns) / 1e9

    def mono_ns(self, t: float) -> int:
        return self.start_mono_ns + int(t * 1e9)

    def unix(self, t: float) -> float:
        return self.start_unix + t


def fill_key(tx_hash: str, token: str, side: str, price, size, occurrence: int) -> str:
    """The multiset key the bot dedupes on: (tx, token, side, price, size, occurrence)."""
    return f"{tx_hash}:{token}:{side}:{price}:{size}:{occurrence}"


class Feed:
    def __init__(self, faults: FeedFaults, source_wallet: str, odd_index_share: float = 0,
                 seed: int = 1):
        self.faults = faults  # also: rtds_duplicate (per type), rtds_malformed_* (hostile frames)
        self.odd_index_share = odd_index_share  # RTDS rows sent with outcomeIndex 999
        self.rng = random.Random(seed)
        self.hostile_sent: Counter = Counter()  # hostile frames sent, by kind
        self.last_payload: dict[str, dict] = {}  # RTDS type -> the last payload sent
        self.source_wallet = source_wallet.lower()
        self.rows: deque[Fill] = deque(maxlen=KEEP_ROWS)
        self.by_wallet: dict[str, deque[Fill]] = {}
        self.activity: dict[str, list[dict]] = {}  # wallet -> non-trade activity rows
        self.records: list[dict] = []  # one per source fill
        self.rtds = None  # set by the server: has broadcast(type, payload)
        self.listeners: list = []  # called with each published transaction's fills
        self.loop: asyncio.AbstractEventLoop | None = None

    def rtds_lag_ms(self, kind: str) -> int:
        return self.faults.extra.get("rtds_lag_ms_by_type", {}).get(kind, self.faults.rtds_lag_ms)

    def publish(self, fills: list[Fill]) -> None:
        """Publish one transaction (call on the loop thread)."""
        seen: Counter = Counter()
        for f in fills:
            if f.is_source:
                base = (f.tx_hash, f.token, f.side, f.price, f.size)
                f.fill_key = fill_key(*base, seen[base])
                seen[base] += 1
                self.records.append(self._record(f))
            self.rows.append(f)
            self.by_wallet.setdefault(
                f.profile.wallet, deque(maxlen=KEEP_PER_WALLET)).append(f)
        for listener in self.listeners:
            listener(fills)
        if self.rtds is None or self.loop is None:
            return
        for kind in RTDS_TYPES:
            rows = [f for f in fills if kind == "trades" or f.role == "taker"]
            due = fills[0].sched_mono_ns / 1e9 + self.rtds_lag_ms(kind) / 1000
            payloads = [self._payload(f) for f in rows]
            self.loop.call_at(due, self._send, kind, payloads)

    def _payload(self, f: Fill) -> dict:
        payload = rtds_payload(f)
        if self.odd_index_share and self.rng.random() < self.odd_index_share:
            payload["outcomeIndex"] = 999  # the sentinel real frames sometimes carry
        return payload

    def _send(self, kind: str, payloads: list[dict]) -> None:
        twice = self.faults.rtds_duplicate.get(kind, 0)
        bad = self.faults.rtds_malformed_share
        for payload in payloads:
            self.rtds.broadcast("activity", kind, payload)
            self.last_payload[kind] = payload
            if twice and self.rng.random() < twice:  # random() < 1 always: every frame at 1.0
                self.rtds.broadcast("activity", kind, payload)
            if bad and self.faults.rtds_malformed_kinds and self.rng.random() < bad:
                kinds = self.faults.rtds_malformed_kinds
                self.send_hostile(kinds[sum(self.hostile_sent.values()) % len(kinds)], kind)

    def send_hostile(self, hostile_kind: str, kind: str = "orders_matched") -> bool:
        """One hostile frame (hostile.py) of RTDS type `kind`, modelled on the last good one of
        that type; False without one."""
        payload = self.last_payload.get(kind)
        if self.rtds is None or payload is None:
            return False
        text = hostile_frame(hostile_kind, "activity", kind, payload, time.time_ns() // 1_000_000)
        self.rtds.broadcast_text("activity", kind, payload, text)
        self.hostile_sent[hostile_kind] += 1
        return True

    def add_activity(self, wallet: str, row: dict, sched_mono_ns: int) -> None:
        self.activity.setdefault(wallet.lower(), []).append({**row, "_mono_ns": sched_mono_ns})

    def visible(self, fills) -> list[Fill]:
        """Fills old enough for the Data API, newest first."""
        cutoff = time.monotonic_ns() - self.faults.data_api_lag_ms * 1_000_000
        return [f for f in reversed(fills) if f.sched_mono_ns <= cutoff]

    def visible_activity(self, wallet: str) -> list[dict]:
        cutoff = time.monotonic_ns() - self.faults.data_api_lag_ms * 1_000_000
        rows = [r for r in self.activity.get(wallet, []) if r["_mono_ns"] <= cutoff]
        return [{k: v for k, v in r.items() if k != "_mono_ns"} for r in reversed(rows)]

    def reset(self) -> None:
        self.rows.clear()
        self.by_wallet.clear()
        self.activity.clear()
        self.records.clear()

    @staticmethod
    def _record(f: Fill) -> dict:
        m = f.info.market
        return {"fill_key": f.fill_key, "token_id": f.token, "sched_mono_ns": f.sched_mono_ns,
                "tx_hash": f.tx_hash, "side": f.side, "price": str(f.price),
                "size": str(f.size), "role": f.role, "slug": m.slug,
                "condition_id": m.condition_id, "outcome": m.outcome_of(f.token),
                "timestamp": f.unix_ts}
