"""Aggregates what the other actors report: stage timings, decisions, outcomes, feed health.

It logs one line per event with the correlation id, keeps counters and latency windows, and
sends a `TelemetrySnapshot` to the supervisor about once a second (for `run.py --status`).
"""
from __future__ import annotations

import time
from collections import Counter, deque
from datetime import timedelta

from polycopy.actors.base import ChildActor
from polycopy.messages import Alert, FeedHealth, OrderOutcome, RiskDecision, StageTiming, TelemetrySnapshot

SNAPSHOT = "snapshot"
WINDOW = 2000  # latencies kept for quantiles


def quantiles(values) -> dict:
    vals = sorted(values)
    if not vals:
        return {"p50": None, "p95": None, "p99": None, "max": None, "n": 0}

    def q(p: float) -> float:
        return round(vals[min(len(vals) - 1, int(p * len(vals)))], 3)

    return {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99), "max": round(vals[-1], 3), "n": len(vals)}


class Telemetry(ChildActor):
    role = "telemetry"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.counters: Counter = Counter()
        self.internal_ms: deque = deque(maxlen=WINDOW)
        self.copy_delay_ms: deque = deque(maxlen=WINDOW)
        self.feeds: dict = {}

    def on_init(self, msg) -> None:
        self.wakeupAfter(timedelta(seconds=1), payload=SNAPSHOT)

    def receiveMsg_StageTiming(self, msg: StageTiming, sender):
        stages = dict(msg.stages)
        self.log.bind(corr=msg.key).info("stages {}", {k: v for k, v in msg.stages})
        if "recv" in stages and "sent" in stages:
            self.internal_ms.append((stages["sent"] - stages["recv"]) / 1e6)
            if msg.source_ts_ms:
                sent_wall_ms = time.time() * 1000 - (time.monotonic_ns() - stages["sent"]) / 1e6
                self.copy_delay_ms.append(sent_wall_ms - msg.source_ts_ms)

    def receiveMsg_RiskDecision(self, msg: RiskDecision, sender):
        self.counters[f"risk_{msg.decision}"] += 1
        self.counters[f"risk_reason:{msg.reason}"] += 1

    def receiveMsg_OrderOutcome(self, msg: OrderOutcome, sender):
        self.counters[f"orders_{msg.status}"] += 1

    def receiveMsg_FeedHealth(self, msg: FeedHealth, sender):
        self.feeds[msg.feed] = {
            "connected": msg.connected,
            "silence_s": round(msg.silence_s, 1),
            "reconnects": msg.reconnects,
            "malformed": msg.malformed,
            "circuit_open": msg.circuit_open,
        }

    def receiveMsg_Alert(self, msg: Alert, sender):
        self.counters[f"alert:{msg.condition}"] += 1
        (self.log.info if msg.resolved else self.log.warning)("ALERT {}{}: {}", msg.condition, " resolved" if msg.resolved else "", msg.text)

    def on_wakeup(self, payload) -> None:
        if payload != SNAPSHOT:
            return
        if self.parent is not None:
            self.send(self.parent, TelemetrySnapshot(snapshot=self.snapshot()))
        self.wakeupAfter(timedelta(seconds=1), payload=SNAPSHOT)

    def snapshot(self) -> dict:
        return {
            "counters": dict(self.counters),
            "internal_ms": quantiles(self.internal_ms),
            "copy_delay_ms": quantiles(self.copy_delay_ms),
            "feeds": self.feeds,
        }
