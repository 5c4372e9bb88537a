"""The reconciler's reads: the source's (and, live, our) positions and activity from the Data
API v2 (clients/data_api.py), and CLOB mid prices for tokens the source no longer lists.
Blocking; meant for the reconciler's I/O thread (actors/io_jobs.py)."""
from __future__ import annotations

from polycopy.clients.data_api import DataApi
from polycopy.clients.http import HttpClient
from polycopy.errors import Malformed
from polycopy.wire.clob import parse_midpoint
from polycopy.wire.data_api import Activity, Position
from polycopy.wire.jsontext import loads


class PositionsClient:
    def __init__(self, data_api_url: str, timeout_s: float):
        self.data = DataApi(data_api_url, timeout_s)
        self.timeout_s = timeout_s
        self._clob: HttpClient | None = None

    def positions(self, user: str) -> list[Position]:
        return self.data.positions(user)

    def activity(self, user: str, start_ts: int) -> list[Activity]:
        return self.data.activity(user, start_ts)

    def midpoints(self, clob_url: str, token_ids) -> dict:
        """token -> CLOB mid price (GET /midpoint); tokens without a book are left out."""
        if self._clob is None or self._clob.base != clob_url.rstrip("/"):
            self._clob = HttpClient(clob_url, self.timeout_s)
        out = {}
        for token in token_ids:
            answer = self._clob.read("/midpoint", {"token_id": token}, ok=(200, 400, 404))
            try:
                mid = parse_midpoint(loads(answer.body, max_bytes=64 * 1024, max_depth=4))
            except Malformed:
                mid = None
            if answer.status == 200 and mid is not None:
                out[token] = mid
        return out

    def close(self) -> None:
        self.data.close()
        if self._clob is not None:
            self._clob.close()
