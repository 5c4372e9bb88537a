"""loguru, configured once in the runner before the actor system starts (actors inherit it by fork).

Sinks: JSON lines or, for a person at a terminal, one human line per event (ops/console.py) on
stdout, and JSON lines in `polycopy.log`, rotated by size. Every line is
scrubbed of every secret value twice: a patcher cleans the message and the extra fields, and
each sink cleans the final text, so no sink ever sees a secret, whatever the code logged.

Several processes write the same file (the runner, Thespian's admin and every actor are forks).
Decision: no `enqueue` (its queue is drained by a thread in the runner; if the runner stalls or
dies every actor blocks on a full pipe; and it cost the caller 306 us a line here, against 112 us
for these sinks and 175 us for loguru's own serialize + rotation, 2-core shared machine), no
loguru rotation (each process would rotate on its own). Instead each process appends whole lines with one
`os.write` on an O_APPEND descriptor (atomic on Linux, so lines never interleave); the process
that sees the file over its size rotates it under an exclusive `flock`, and every other process
notices the new inode on its next line and reopens. A line written in between lands in the
rotated file: nothing is lost (tests/unit/test_logs.py forks five writers across rotations).
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import traceback
from pathlib import Path

from loguru import logger

from polycopy.ops.console import make_human, on_console, wants_color

REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 6


def secret_variants(values) -> list[str]:
    """The values to hide: each secret, its 0x-less form, and the parts of alert URLs."""
    out = set()
    for v in values:
        if not v:
            continue
        for part in [v, *v.replace(",", " ").split()]:
            out.add(part)
            if part.lower().startswith("0x"):
                out.add(part[2:])
            if "://" in part:  # apprise URL: tokens sit in the user, password, host or path
                out.update(p for p in re.split(r"[/:@?&=,]", part.split("://", 1)[1]) if len(p) >= 12)
    return sorted((v for v in out if len(v) >= MIN_SECRET_LEN), key=len, reverse=True)


def make_scrubber(secret_values):
    values = secret_variants(secret_values)
    lowered = [(v, v.lower()) for v in values]

    def scrub(text: str) -> str:
        low = text.lower()
        for v, vl in lowered:
            if vl in low:
                text = _replace_nocase(text, v)
                low = text.lower()
        return text

    return scrub


def _replace_nocase(text: str, value: str) -> str:
    out, low, vl, i = [], text.lower(), value.lower(), 0
    while (j := low.find(vl, i)) >= 0:
        out.append(text[i:j] + REDACTED)
        i = j + len(value)
    return "".join(out) + text[i:]


def make_redactor(secret_values):
    """loguru patcher: scrub the message and the string extras (the sinks scrub again)."""
    scrub = make_scrubber(secret_values)

    def patch(record) -> None:
        record["message"] = scrub(record["message"])
        for k, v in list(record["extra"].items()):
            if isinstance(v, str):
                record["extra"][k] = scrub(v)

    return patch


def to_json(record) -> str:
    """One compact JSON object per line: time, level, actor, message, extras, exception."""
    out = {"ts": record["time"].isoformat(timespec="milliseconds"), "level": record["level"].name,
           "msg": record["message"]}
    out.update(record["extra"])
    out.setdefault("actor", "runner")
    exc = record["exception"]
    if exc is not None and exc.type is not None:
        out["exc"] = "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))
    return json.dumps(out, default=str, separators=(",", ":"))


class FdSink:
    """Whole lines to an inherited descriptor (stdout) with one write each."""

    def __init__(self, fd: int, render, scrub):
        self.fd, self.render, self.scrub = fd, render, scrub

    def __call__(self, message) -> None:
        _write_all(self.fd, (self.scrub(self.render(message.record)) + "\n").encode())


class AppendFileSink:
    """Many processes append to one file; any of them rotates it under a lock (see module doc)."""

    def __init__(self, path: Path, render, scrub, max_bytes: int, keep: int):
        self.path, self.render, self.scrub = Path(path), render, scrub
        self.max_bytes, self.keep = max_bytes, keep
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.fd: int | None = None
        self.ino = None

    def __call__(self, message) -> None:
        data = (self.scrub(self.render(message.record)) + "\n").encode()
        if self.fd is None or self._replaced():
            self._reopen()
        _write_all(self.fd, data)
        if os.fstat(self.fd).st_size >= self.max_bytes:
            self._rotate()

    def _replaced(self) -> bool:
        try:
            return os.stat(self.path).st_ino != self.ino
        except FileNotFoundError:
            return True

    def _reopen(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.ino = os.fstat(self.fd).st_ino

    def _rotate(self) -> None:
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                st = None
            if st is not None and st.st_ino == self.ino and st.st_size >= self.max_bytes:
                name = self.path.name
                (self.path.with_name(f"{name}.{self.keep}")).unlink(missing_ok=True)
                for i in range(self.keep - 1, 0, -1):
                    older = self.path.with_name(f"{name}.{i}")
                    if older.exists():
                        older.rename(self.path.with_name(f"{name}.{i + 1}"))
                self.path.rename(self.path.with_name(f"{name}.1"))
        self._reopen()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def stdout_is_json(log_format: str, fd: int | None = None) -> bool:
    """"json", "human", or "auto": human on a terminal, JSON under systemd/journald, Docker or a pipe."""
    if log_format in ("json", "human"):
        return log_format == "json"
    fd = sys.stdout.fileno() if fd is None else fd
    return not os.isatty(fd) or bool(os.environ.get("JOURNAL_STREAM"))


def setup_logging(*, level: str, log_path: Path | None, json_stdout: bool, secret_values: list[str],
                  rotate_mb: int = 50, keep_files: int = 10, stdout_fd: int | None = None,
                  color: bool | None = None, console_level: str | None = None) -> None:
    """Replace every loguru sink. Call once per process, before the actor system starts.
    `json_stdout` False: the human console (colours when `color`, default: stdout is a terminal),
    at `console_level` (default `level`; a replay's progress bar keeps only warnings there)."""
    scrub = make_scrubber(secret_values)
    logger.remove()
    logger.configure(patcher=make_redactor(secret_values), extra={"actor": "runner"})
    fd = sys.stdout.fileno() if stdout_fd is None else stdout_fd
    fmt = lambda _record: "{message}"  # noqa: E731 - the sinks render the record themselves
    if json_stdout:
        logger.add(FdSink(fd, to_json, scrub), level=level, format=fmt, backtrace=False, diagnose=False)
    else:
        human = make_human(wants_color(fd) if color is None else color)
        logger.add(FdSink(fd, human, scrub), level=console_level or level, format=fmt, filter=on_console,
                   backtrace=False, diagnose=False)
    if log_path is not None:
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        logger.add(AppendFileSink(log_path, to_json, scrub, rotate_mb * 1024 * 1024, keep_files), level=level,
                   format=fmt, backtrace=False, diagnose=False)
