"""Replay a recorded RTDS feed with its timing.

The file is JSONL, one received frame a line: `{"recv_ms": <ms, any epoch>, "frame": {...}}`
(`"text": "<raw frame>"` instead of `frame` also works; non-JSON text is skipped). Frame i
goes out `replay_delay_s + (recv_ms[i] - recv_ms[0]) / 1000` s after the scenario start,
with a fresh envelope timestamp and connection id. Frames of the source wallet become source-fill
records (their scheduled time is the replay time: the recording already holds the lag).
Replayed fills are not added to the Data API (their markets are not in the catalog).
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from pathlib import Path

from polycopy.sim.feed import Clock, Feed, fill_key

log = logging.getLogger(__name__)


def load(path: str | Path) -> list[tuple[float, dict]]:
    """[(seconds after the first frame, frame), ...]; raises ValueError naming the line."""
    out, t0 = [], None
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            recv_ms = float(entry["recv_ms"])
            frame = entry["frame"] if "frame" in entry else json.loads(entry["text"])
        except json.JSONDecodeError:
            if '"text"' in line:
                continue  # a recorded non-JSON frame ("", "PONG")
            raise ValueError(f"{path}:{n}: not JSON") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a recorded frame ({exc})") from None
        if not isinstance(frame, dict) or "payload" not in frame:
            continue
        t0 = recv_ms if t0 is None else t0
        out.append(((recv_ms - t0) / 1000, frame))
    return out


class Replay:
    def __init__(self, path: str | Path, feed: Feed, rtds, clock: Clock, delay_s: float = 0):
        self.frames = [(t + delay_s, frame) for t, frame in load(path)]
        self.feed, self.rtds, self.clock = feed, rtds, clock
        self.seen: Counter = Counter()
        self.recorded: Counter = Counter()

    async def run(self) -> None:
        for t, frame in self.frames:
            delay = t - self.clock.t()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = frame["payload"]
            if str(payload.get("proxyWallet", "")).lower() == self.feed.source_wallet:
                self._record(payload, t, frame.get("type", ""))
            self.rtds.broadcast(frame.get("topic", "activity"), frame.get("type", "trades"),
                                payload)

    def _record(self, p: dict, t: float, kind: str) -> None:
        """One record per source fill, though it may arrive under both types."""
        base = (p.get("transactionHash", ""), str(p.get("asset", "")), p.get("side", ""),
                str(p.get("price", "")), str(p.get("size", "")))
        occurrence = self.seen[(kind,) + base]
        self.seen[(kind,) + base] += 1
        if occurrence < self.recorded[base]:
            return
        self.recorded[base] += 1
        self.feed.records.append({
            "fill_key": fill_key(*base, occurrence), "token_id": base[1],
            "sched_mono_ns": self.clock.mono_ns(t), "tx_hash": base[0], "side": base[2],
            "price": base[3], "size": base[4], "role": "", "slug": p.get("slug", ""),
            "condition_id": p.get("conditionId", ""), "outcome": p.get("outcome", ""),
            "timestamp": p.get("timestamp")})
