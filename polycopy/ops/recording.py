"""Recording the raw source feed (`run.py --record FILE`), for polysim to replay later.

One JSONL file, shared by the RTDS and the backstop watcher (two processes). Each line is
one of:

    {"recv_ms": <wall ms>, "text": "<raw RTDS frame>"}
    {"recv_ms": <wall ms>, "backstop_row": {...Data API /trades row...}}

Every line is written with ONE `os.write` on a descriptor opened with O_APPEND: the kernel
places each write at the end of the file atomically, so lines of the two writers never
interleave or overwrite each other, and each line is on disk (page cache) as soon as it is
written: a crash loses at most the line being written. Only the watchers' I/O threads write
(never an actor's message loop). A write that fails is logged once and the recording stops;
the bot keeps running.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from loguru import logger


def _default(obj):
    if isinstance(obj, Decimal):
        return str(obj)  # the row's own digits; replay reads them back as Decimal
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Recorder:
    """Appends whole lines to `path` (created with its folder if missing)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()
        self.lines = 0

    def frame(self, text: str | bytes, recv_ms: int | None = None) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self._write({"recv_ms": recv_ms or _now_ms(), "text": text})

    def backstop_row(self, row: dict, recv_ms: int | None = None) -> None:
        self._write({"recv_ms": recv_ms or _now_ms(), "backstop_row": row})

    def _write(self, entry: dict) -> None:
        data = (json.dumps(entry, default=_default, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._fd is None:
                return
            try:
                while data:  # a regular file takes it in one write; the loop is for safety
                    data = data[os.write(self._fd, data):]
                self.lines += 1
            except OSError as e:
                logger.error("recording to {} failed ({}); recording stopped", self.path, e)
                self._close()

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass  # already gone; nothing left to lose


class RtdsRecorder:
    """Records the RTDS frames that mention the source wallet, except each connection's first."""

    def __init__(self, recorder: Recorder, wallet: str):
        self.recorder, self.wallet = recorder, wallet.lower()
        self.first = True

    def new_connection(self) -> None:
        self.first = True

    def on_text(self, text: str | bytes) -> None:
        if self.first:
            self.first = False
            return
        raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        if self.wallet in raw.lower():
            self.recorder.frame(raw)


class BackstopRecorder:
    """Records each Data API row the first time it is listed (counting identical rows: a page
    that lists the same row twice records the second copy once)."""

    def __init__(self, recorder: Recorder, wallet: str, keep: int = 20_000):
        self.recorder, self.wallet, self.keep = recorder, wallet.lower(), keep
        self.seen: Counter = Counter()  # canonical row -> most copies seen in one page

    def on_page(self, rows: list) -> None:
        page: Counter = Counter()
        for row in rows:
            if not isinstance(row, dict) or str(row.get("proxyWallet", "")).lower() != self.wallet:
                continue
            canon = json.dumps(row, default=_default, sort_keys=True)
            page[canon] += 1
            if page[canon] > self.seen[canon]:
                self.seen[canon] = page[canon]
                self.recorder.backstop_row(row)
        if len(self.seen) > self.keep:  # the poller only re-lists a short look-back
            for canon in list(self.seen)[: len(self.seen) - self.keep // 2]:
                del self.seen[canon]
