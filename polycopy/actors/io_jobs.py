"""Blocking HTTP calls off the actor's thread: a job queue served by one thread, results back
through the ThreadBridge (watcher_io.py), so the actor never waits on the network.

    jobs = JobThread("catalog-io"); jobs.start()
    jobs.submit(("facts", token), fetch, session, url, token)   # actor thread
    # on WatchMessage: for tag, result, error in jobs.drain(): ...
The actor returns `jobs.fd` from `watch_fds()` (`JobsActor` does that, and closes the thread and
the actor's database at exit). Jobs run one at a time, in order, except that an `urgent` job goes
before every queued ordinary one (a lookup a fill waits for).
"""
from __future__ import annotations

import itertools
from queue import Empty, PriorityQueue
from typing import Any, Callable

from polycopy.actors.watcher_io import ThreadBridge

POLL_S = 0.2  # how often an idle worker checks for stop


class JobThread:
    def __init__(self, name: str):
        self.bridge = ThreadBridge(name)
        self._jobs: PriorityQueue = PriorityQueue()
        self._seq = itertools.count()
        self.queued = 0  # submitted and not yet drained (actor side)

    @property
    def fd(self) -> int:
        return self.bridge.fd

    def start(self) -> None:
        self.bridge.start(self._serve)

    def submit(self, tag: Any, fn: Callable, *args, urgent: bool = False) -> None:
        self.queued += 1
        self._jobs.put((0 if urgent else 1, next(self._seq), (tag, fn, args)))

    def drain(self) -> list[tuple[Any, Any, BaseException | None]]:
        """(tag, result, error) for every job finished since the last drain."""
        done = [item for item in self.bridge.drain() if len(item) == 3]
        self.queued -= len(done)
        return done

    def close(self) -> None:
        self.bridge.close()

    def _serve(self, bridge: ThreadBridge) -> None:
        while not bridge.stop_event.is_set():
            try:
                _, _, (tag, fn, args) = self._jobs.get(timeout=POLL_S)
            except Empty:
                continue
            try:
                bridge.put((tag, fn(*args), None))
            except Exception as e:  # noqa: BLE001 - the actor decides what an error means
                bridge.put((tag, None, e))


class JobsActor:
    """Mixin before ChildActor for an actor whose HTTP calls run on a JobThread and whose tables
    are in `self.db`: starts the thread, watches it, and closes both at exit."""

    jobs: JobThread | None = None
    db = None

    def start_jobs(self, name: str) -> None:
        self.jobs = JobThread(name)
        self.jobs.start()

    def watch_fds(self) -> list:
        return [self.jobs.fd] if self.jobs is not None else []

    def on_exit(self) -> None:
        if self.jobs is not None:
            self.jobs.close()
            self.jobs = None
        if self.db is not None:
            self.db.conn.close()
            self.db = None
