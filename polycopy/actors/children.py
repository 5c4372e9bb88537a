"""The actor tree: which actors the supervisor creates (in this order), which only when the config
asks for them, and what it keeps about each child."""
from __future__ import annotations

import importlib
import os
import signal
import time

# role -> "module:Class", created in this order (peers first, watchers last).
CHILDREN = {
    "telemetry": "polycopy.actors.telemetry:Telemetry",
    "catalog": "polycopy.actors.catalog:Catalog",
    "risk": "polycopy.actors.risk:Risk",
    "executor": "polycopy.actors.executor:Executor",
    "ledger": "polycopy.actors.ledger:Ledger",
    "redeemer": "polycopy.actors.redeemer:Redeemer",
    "intake": "polycopy.actors.intake:Intake",
    "rtds": "polycopy.actors.rtds_watcher:RtdsWatcher",
    "backstop": "polycopy.actors.backstop_watcher:BackstopWatcher",
    "mempool": "polycopy.actors.mempool_watcher:MempoolWatcher",
    "reconciler": "polycopy.actors.reconciler:Reconciler",
    "telegram": "polycopy.actors.telegram:TelegramControl",
}
# Children that exist only when the config asks for them.
OPTIONAL = {"mempool": lambda cfg: bool(cfg.venue.polygon_ws_url), "reconciler": lambda cfg: cfg.reconcile.enabled,
            "telegram": lambda cfg: load_class("polycopy.actors.telegram:telegram_wanted")(cfg),
            "ledger": lambda cfg: cfg.execution.mode.value in ("paper", "live"),  # a dry run holds nothing
            "redeemer": lambda cfg: cfg.execution.mode.value == "live" and cfg.redeem.enabled}
COALESCER = "polycopy.actors.coalescer:Coalescer"


def load_class(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


class Child:
    __slots__ = ("role", "key", "cls_path", "addr", "pid", "restarts", "last_pong", "end_ts", "retiring")

    def __init__(self, role: str, key: str, cls_path: str, end_ts: int = 0):
        self.role, self.key, self.cls_path, self.end_ts = role, key, cls_path, end_ts
        self.addr = None
        self.pid = 0
        self.restarts = 0
        self.last_pong = time.monotonic()
        self.retiring = False

    @property
    def name(self) -> str:
        return f"{self.role}:{self.key}" if self.key else self.role

def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
