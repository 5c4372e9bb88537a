"""Order heartbeats (CLOB-V2.md §5): POST /v1/heartbeats with the last id the venue returned.

The first accepted beat arms the venue's dead-man switch (no beat for ~10 s cancels every open
order of the API key). A stale id is answered with 400 and the expected id: retry once with it.
"""
from __future__ import annotations

import time

from loguru import logger

from polycopy.errors import TemporaryError


GRACE_S = 8.0  # the venue cancels ~10 s after the last accepted beat: until then one failed beat is no failure
RETRY_S = 1.0  # after a failed beat, try again this soon


class Heartbeats:
    def __init__(self, rest, timeout_s: float = 1.0, clock=time.monotonic):
        self.rest, self.timeout_s, self.clock = rest, timeout_s, clock
        self.heartbeat_id = ""
        self.ok = True  # the venue still counts us alive: orders may be admitted
        self.accepted = True  # the last beat was accepted
        self.last_accepted: float | None = None

    def beat(self) -> bool:
        """One heartbeat (short timeout: it runs on the executor's thread); True if accepted."""
        ok = False
        try:
            for _ in range(2):
                status, _, body = self.rest.heartbeat(self.heartbeat_id, timeout=self.timeout_s)
                body = body if isinstance(body, dict) else {}
                if body.get("heartbeat_id") is not None:
                    self.heartbeat_id = str(body["heartbeat_id"])
                if status == 200:
                    ok = True
                    break
                if status != 400 or "heartbeat_id" not in body:
                    break
        except TemporaryError as e:
            logger.warning("heartbeat failed: {}", e)
        now = self.clock()
        if ok:
            self.last_accepted = now
        elif self.last_accepted is not None:
            logger.warning("heartbeat not accepted; {:.1f} s since the last accepted one", now - self.last_accepted)
        # A 429 or a slow answer inside the venue's window is no failure; past it, fail closed.
        self.accepted = ok
        self.ok = ok or (self.last_accepted is not None and now - self.last_accepted < GRACE_S)
        return self.ok

    def next_in_s(self, interval_s: float) -> float:
        return interval_s if self.accepted else min(interval_s, RETRY_S)
