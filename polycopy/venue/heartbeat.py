"""Order heartbeats (CLOB-V2.md §5): POST /v1/heartbeats with the last id the venue returned.

The first accepted beat arms the venue's dead-man switch (no beat for ~10 s cancels every open
order of the API key). A stale id is answered with 400 and the expected id: retry once with it.
"""
from __future__ import annotations

from loguru import logger

from polycopy.errors import TemporaryError


class Heartbeats:
    def __init__(self, rest, timeout_s: float = 1.0):
        self.rest, self.timeout_s = rest, timeout_s
        self.heartbeat_id = ""
        self.ok = True

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
        self.ok = ok
        return ok
