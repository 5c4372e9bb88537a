"""The executor's first posts, off its own thread (live mode).

A POST waits ~4-6 ms for the venue's answer; done inline, a burst of copies queues behind each
answer. Here the executor journals and counts the order (Placer), hands the exact bytes to a
small thread pool and takes the next intent; each answer comes back through a ThreadBridge
(queue + pipe, the executor watches its fd) and is handled on the actor's thread
(`Placer.complete`). Worker threads only call `poster.post` (HTTP; urllib3's pool is thread-safe):
no database, no actor sends.
"""
from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor

from polycopy.actors.watcher_io import ThreadBridge

WORKERS = 4  # the CLOB connection pool keeps 4 connections per host
SWITCH_INTERVAL_S = 0.0005  # a worker waits at most this long for the GIL while the actor thread computes


class PostPool:
    def __init__(self, poster, workers: int = WORKERS):
        self.poster = poster
        self.bridge = ThreadBridge("posts")
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="post")
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))  # this process only

    @property
    def fd(self) -> int:
        return self.bridge.fd

    def submit(self, row: dict, signed, plan, book) -> None:
        order_id = row["order_id"]
        future = self.pool.submit(self.poster.post, signed, plan, book)
        future.add_done_callback(lambda f: self.bridge.put((order_id, f, time.monotonic_ns())))

    def drain(self) -> list[tuple[str, object, str, int]]:
        """(order id, PostResult or None, error text, monotonic ns of the answer) per finished post."""
        out = []
        for order_id, f, done_ns in self.bridge.drain():
            if f.cancelled():  # shutting down: the order stays counted as maybe sent (recovery looks it up)
                continue
            exc = f.exception()
            out.append((order_id, None if exc else f.result(), f"{type(exc).__name__}: {exc}"[:200] if exc else "",
                        done_ns))
        return out

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.bridge.close()
