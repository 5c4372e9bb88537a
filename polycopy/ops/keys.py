"""Single key presses from a terminal, without Enter and without echo (the live view's controls)."""
from __future__ import annotations

import os
import select
import sys
import termios
import tty


class Keys:
    """`with Keys() as keys: keys.read(0.1)` -> one character, or "" when none came in time.
    The terminal's mode is restored on leaving, whatever happened inside."""

    def __init__(self, stream=None):
        self.fd = (stream or sys.stdin).fileno()
        self.saved = None

    def __enter__(self) -> Keys:
        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc) -> None:
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def read(self, timeout_s: float) -> str:
        ready, _, _ = select.select([self.fd], [], [], timeout_s)
        if not ready:
            return ""
        data = os.read(self.fd, 32)
        return data[:1].decode(errors="replace") if data else ""
