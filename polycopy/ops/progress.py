"""A progress bar with ETA for long commands (replay, sweep, benchmarks), on a terminal only.

    with progress_bar(total=120, what="replay") as bar:
        bar.update(done, note="41 fills, 12 copies")

Off a terminal (a pipe, a CI log, systemd) it draws nothing and costs nothing: the command's own
output stays as it was. rich's Progress draws it, on stderr so stdout stays parseable.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class _Bar:
    def __init__(self, progress: Progress | None, task=None):
        self.progress, self.task = progress, task

    def update(self, completed: float, note: str | None = None, total: float | None = None) -> None:
        if self.progress is None:
            return
        kw = {"completed": completed}
        if note is not None:
            kw["note"] = note
        if total is not None:
            kw["total"] = total
        self.progress.update(self.task, **kw)

    def advance(self, n: float = 1, note: str | None = None) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)
            if note is not None:
                self.progress.update(self.task, note=note)


def enabled(stream=None) -> bool:
    stream = sys.stderr if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress_bar(total: float, what: str, unit: str = "", stream=None):
    """Yields an object with update()/advance(); draws only when `stream` (stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    if not enabled(stream):
        yield _Bar(None)
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               MofNCompleteColumn() if not unit else TextColumn(f"{{task.completed:.0f}}/{{task.total:.0f}} {unit}"),
               TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
               TextColumn("{task.fields[note]}", style="dim")]
    with Progress(*columns, console=Console(file=stream), transient=False) as progress:
        yield _Bar(progress, progress.add_task(what, total=total, note=""))


class ReplayProgress:
    """`run.py --replay` on a terminal: the recording's time played so far (from the system's
    start, so the ETA is the recording's length), with what the database holds: fills stored,
    decisions taken, orders. Called on each of the runner's polls."""

    def __init__(self, bar: _Bar, db_path, span_s: float):
        import time

        self.bar, self.db_path, self.span_s = bar, db_path, max(span_s, 1.0)
        self.clock, self.t0, self.conn = time.monotonic, time.monotonic(), None

    def __call__(self) -> None:
        import sqlite3

        from polycopy.ops.copybook import query

        played = min(self.clock() - self.t0, self.span_s)
        try:
            if self.conn is None:
                self.conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
            n = {t: (query(self.conn, f"SELECT COUNT(*) AS n FROM {t}") or [{"n": 0}])[0]["n"]
                 for t in ("fills", "decisions", "exec_orders")}
            note = f"{n['fills']} fills, {n['decisions']} decisions, {n['exec_orders']} orders"
        except sqlite3.Error:
            note = "waiting for the database"
            self.conn = None
        if played >= self.span_s:
            note += (f" · done: Ctrl-C stops it; then python -m polycopy.ops.report --db {self.db_path} "
                     "--html report.html")
        self.bar.update(played, note=note)
