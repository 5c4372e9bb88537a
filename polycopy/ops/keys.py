"""The live view's keys: single key presses from a terminal (no Enter, no echo), and what they do."""
from __future__ import annotations

import os
import select
import sys
import termios
import threading
import tty
from pathlib import Path

from rich.text import Text

from polycopy.config.loader import control_config


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


class Controls:
    """`k`/`r` then `y`: the kill switch, through the runner's own call, on a thread (it waits for
    the bot's answer up to 5 s; the screen keeps refreshing)."""

    ASK = {"k": (True, "Trip the kill switch (no new orders)?"), "r": (False, "Reset the kill switch (orders resume)?")}

    def __init__(self, config_path: Path):
        self.config_path = config_path
        self.pending: str | None = None
        self.message = Text("q quit   k kill switch   r reset kill switch", "dim")

    def key(self, ch: str) -> bool:
        """Handle one key; False = quit."""
        if self.pending is not None:
            tripped, _ = self.ASK[self.pending]
            self.pending = None
            if ch.lower() == "y":
                self.message = Text("sending ...", "yellow")
                threading.Thread(target=self._send, args=(tripped,), daemon=True).start()
            else:
                self.message = Text("cancelled", "dim")
            return True
        if ch in ("q", "Q"):
            return False
        if ch in self.ASK:
            self.pending = ch
            self.message = Text(f"{self.ASK[ch][1]}  y = yes, any other key = no", "bold yellow")
        return True

    def _send(self, tripped: bool) -> None:
        from polycopy import runner

        try:
            cfg = control_config(self.config_path)
            self.message = Text(runner.set_kill_switch(cfg, tripped, "live view: operator" if tripped
                                                       else "live view: operator reset"), "bold")
        except Exception as e:  # noqa: BLE001 - shown to the operator, the view goes on
            self.message = Text(f"not done: {e}", "bold red")
