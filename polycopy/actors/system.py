"""Starting, finding and stopping the Thespian actor system, on loopback only.

Thespian 4.0.1 binds every actor socket to all interfaces and unpickles whatever arrives
(THESPIAN.md §6.7): on a VPS that is remote code execution. `_bind_loopback_only` makes every
socket of the system bind to the address it advertises, which THESPIAN_BASE_IPADDR pins to
127.0.0.1. Actor processes are forked from the process that imported this module, so the
patch reaches all of them. Loopback still lets any local user in: every frame is also
authenticated (transport_auth.py) with a per-run key that `start_system` writes to the state
folder and `attach_system` reads from there, each before `ActorSystem()`.

The hot path's lane (polycopy/lane) is configured by `start_system` too, before `ActorSystem()`,
so every actor inherits its folder and key; `lane=False` keeps every message on Thespian (run.py
with POLYCOPY_LANE=off: the baseline bench/README.md measures against).
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from loguru import logger
from thespian.actors import ActorSystem
from thespian.system.transport import IPBase

from polycopy.actors import transport_auth
from polycopy.lane import wiring
from polycopy.errors import SystemNotRunningError, SystemRunningError
from polycopy.store.private import private_dir, private_umask

BASE = "multiprocTCPBase"
SUPERVISOR_NAME = "supervisor"
LOOPBACK = "127.0.0.1"


def _bind_loopback_only() -> None:
    cls = IPBase.IPActorAddress
    if getattr(cls, "_polycopy_loopback", False):
        return
    cls.bindArgs = property(lambda self: (self.sockname,))
    cls._polycopy_loopback = True


os.environ["THESPIAN_BASE_IPADDR"] = LOOPBACK
_bind_loopback_only()


def free_port() -> int:
    """A loopback port free right now, for another system's admin port (the policy sweep runs several)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def admin_answers(port: int, timeout_s: float = 0.5) -> bool:
    """Probe with a plain socket: ActorSystem() would silently start a new system."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def log_defs(level: str = "WARNING") -> dict:
    """Thespian's own stdlib logging: warnings and errors to stderr (the journal under systemd).

    Our actors log with loguru directly, so no record crosses the logger process on the hot path.
    An explicit dict is required: logDefs=False breaks every multiproc child in 4.0.1.
    """
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s thespian %(levelname)s %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "level": level}},
        "root": {"handlers": ["stderr"], "level": level},
        "disable_existing_loggers": False,
    }


def key_path(state_dir: Path, port: int) -> Path:
    """The transport key of the system on `port` (one file per port: `--sim` and a real run may
    share a state folder, never a port)."""
    return state_dir / f"actors-{port}.key"


def start_system(port: int, state_dir: Path, lane: bool | None = True) -> ActorSystem:
    """Start a fresh system with a fresh transport key, and a fresh lane (`lane` True), none
    (False), or the one this process configured itself (None: bench.floor, the lane's own tests).
    Refuses when something already answers on the admin port."""
    if admin_answers(port):
        raise SystemRunningError(
            f"another polycopy (or another program) already answers on admin port {port}; "
            f"stop it first with `python run.py --config ... --shutdown`"
        )
    private_umask()  # every process of the system is forked from here
    private_dir(state_dir)
    os.environ.setdefault("THESPLOG_FILE", str(state_dir / "thespian.log"))
    transport_auth.install(transport_auth.new_key_file(key_path(state_dir, port)))
    if lane is not None:
        configure_lane(state_dir, port, lane)
    return ActorSystem(BASE, {"Admin Port": port}, logDefs=log_defs())


def configure_lane(state_dir: Path, port: int, on: bool):
    """The lane for the system about to start on `port` (after the port check: `configure` clears
    the folder, which must never be a running system's). Returns its settings, or None when off."""
    if not on:
        logger.info("lane off: hot-path messages go through Thespian")
        return wiring.configure(None)
    return wiring.configure(wiring.lane_folder(state_dir, port))


def attach_system(port: int, state_dir: Path) -> ActorSystem:
    """Attach to the running system with its key. Never starts one by accident."""
    if not admin_answers(port):
        raise SystemNotRunningError(f"no polycopy is running (nothing answers on admin port {port})")
    transport_auth.install(transport_auth.read_key_file(key_path(state_dir, port)))
    return ActorSystem(BASE, {"Admin Port": port}, logDefs=log_defs())


def wait_port_closed(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not admin_answers(port, 0.2):
            return True
        time.sleep(0.05)
    return False
