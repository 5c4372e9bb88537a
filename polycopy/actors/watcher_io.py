"""The thread -> actor bridge every I/O thread uses (THESPIAN.md §5).

The I/O thread `put`s items on a SimpleQueue and writes one byte on a pipe when the actor has
not been signalled yet. The actor watches the pipe's read end (`ChildActor.watch_fds`) and,
on `WatchMessage`, `drain()`s everything queued so far into one batch. The thread never calls
`send`; the actor never blocks on I/O. The actor side every watcher shares is watcher.py.
"""
from __future__ import annotations

import asyncio
import os
import threading
from queue import Empty, SimpleQueue
from typing import Any, Awaitable, Callable

from loguru import logger


class ThreadBridge:
    def __init__(self, name: str):
        self.name = name
        self._queue: SimpleQueue = SimpleQueue()
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        self._signalled = threading.Event()
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    @property
    def fd(self) -> int:
        return self._r

    # ------------------------------------------------------------ I/O thread side

    def put(self, item: Any) -> None:
        if self.stop_event.is_set():
            return  # the actor is gone or going; its pipe may be closed
        self._queue.put(item)
        if not self._signalled.is_set():
            self._signalled.set()
            try:
                os.write(self._w, b"x")
            except (BlockingIOError, OSError):
                pass  # pipe full or closed: the actor is already due to drain, or gone

    # ------------------------------------------------------------ actor side

    def drain(self) -> list:
        try:
            while os.read(self._r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass
        self._signalled.clear()  # before emptying the queue: a later put signals again
        items = []
        try:
            while True:
                items.append(self._queue.get_nowait())
        except Empty:
            return items

    def start(self, target: Callable[["ThreadBridge"], None]) -> None:
        """Run `target(bridge)` in a daemon thread; it should return once `stop_event` is set."""
        self._thread = threading.Thread(target=self._run_guarded, args=(target,), name=self.name, daemon=True)
        self._thread.start()

    def start_async(self, main: Callable[["ThreadBridge"], Awaitable[None]]) -> None:
        """Run the coroutine `main(bridge)` on its own event loop in a daemon thread."""

        def run(bridge: ThreadBridge) -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._task = loop.create_task(main(bridge))
            if self.stop_event.is_set():
                self._task.cancel()
            try:
                loop.run_until_complete(self._task)
            except asyncio.CancelledError:
                pass
            finally:
                loop.close()

        self.start(run)

    def _run_guarded(self, target) -> None:
        try:
            target(self)
        except Exception as e:  # noqa: BLE001 - report, the actor decides
            logger.exception("{} thread died: {}", self.name, e)
            self.put(("died", f"{type(e).__name__}: {e}"[:200]))

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 2.0) -> None:
        self.stop_event.set()
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._task.cancel)
            except RuntimeError:
                pass  # loop already closed
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def close(self) -> None:
        self.stop()
        if self.alive():  # still inside a blocking call: leave the pipe to it rather than risk fd reuse
            logger.warning("{} thread still running after stop; leaving its pipe open", self.name)
            return
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
