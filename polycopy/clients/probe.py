"""One-off reachability probes for `--healthcheck` (ops/health.py): a GET of a full URL, a TCP
connect to a websocket host. Not for the hot path: each probe opens and closes its own
connection. Failures raise TemporaryError with a short reason ("connection refused")."""
from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlparse

import urllib3

from polycopy.clients.http import HttpClient
from polycopy.errors import TemporaryError
from polycopy.wire.jsontext import loads

TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class Reply:
    status_code: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        """Bounded JSON (Malformed, a ValueError, when it is not)."""
        return loads(self.body, max_bytes=1024 * 1024, max_depth=16)


def get(url: str, params: dict | None = None, timeout_s: float = TIMEOUT_S) -> Reply:
    client = HttpClient(url, timeout_s)
    try:
        answer = client.get("", params)
    except TemporaryError as e:
        raise TemporaryError(_reason(e.__context__) or str(e)) from None
    finally:
        client.close()
    return Reply(status_code=answer.status, body=answer.body)


def tcp_connect(url: str, timeout_s: float = TIMEOUT_S) -> None:
    u = urlparse(url)
    port = u.port or (443 if u.scheme in ("wss", "https") else 80)
    try:
        with socket.create_connection((u.hostname, port), timeout=timeout_s):
            return
    except OSError as e:
        raise TemporaryError(e.strerror or type(e).__name__) from None


def _reason(e: BaseException | None) -> str:
    """The words behind a urllib3 failure: refused, unknown host, timed out."""
    chain = []
    while e is not None and len(chain) < 10:
        chain.append(e)
        e = getattr(e, "reason", None) or e.__context__
    for kind, words in ((ConnectionRefusedError, "connection refused"), (socket.gaierror, "unknown host"),
                        ((socket.timeout, urllib3.exceptions.TimeoutError), "timed out")):
        if any(isinstance(x, kind) for x in chain):
            return words
    return type(chain[0]).__name__ if chain else ""
