"""Progress bars (ops/progress.py): drawn on a terminal only; the replay's bar reads the run's database."""
from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import termios

from polycopy.ops.progress import ReplayProgress, _Bar, progress_bar
from tests.unit.run_db import make_run_db


def test_nothing_is_drawn_off_a_terminal():
    out = io.StringIO()
    with progress_bar(total=10, what="replay", stream=out) as bar:
        bar.update(5, note="x")
        bar.advance()
    assert out.getvalue() == ""


def test_on_a_terminal_a_bar_with_eta_is_drawn():
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))  # wide enough for every column
    try:
        with open(follower, "w", closefd=False) as stream:
            with progress_bar(total=40, what="replay", unit="s", stream=stream) as bar:
                bar.update(30, note="12 fills")
        os.set_blocking(leader, False)
        chunks = []
        while True:  # a pty hands its data over in pieces
            try:
                chunk = os.read(leader, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        drawn = b"".join(chunks).decode(errors="replace")
    finally:
        os.close(leader)
        os.close(follower)
    assert "replay" in drawn and "75%" in drawn and "30/40 s" in drawn and "ETA" in drawn and "12 fills" in drawn


class Recorder(_Bar):
    def __init__(self):
        super().__init__(None)
        self.seen = []

    def update(self, completed, note=None, total=None):
        self.seen.append((completed, note))


def test_the_replay_bar_counts_what_the_database_holds(tmp_path):
    bar, ticks = Recorder(), iter([100.0, 110.0, 200.0])
    watch = ReplayProgress(bar, tmp_path / "polycopy.sqlite", span_s=44)
    watch.clock = lambda: next(ticks)
    watch.t0 = 100.0
    watch()  # no database yet
    make_run_db(tmp_path / "polycopy.sqlite")
    watch()
    watch()
    assert bar.seen[0] == (0.0, "waiting for the database")
    assert bar.seen[1] == (10.0, "27 fills, 28 decisions, 23 orders")
    assert bar.seen[2][0] == 44 and "done: Ctrl-C stops it" in bar.seen[2][1]
