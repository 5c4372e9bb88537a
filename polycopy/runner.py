"""What run.py does: run the system in the foreground, or talk to the running one.

Exit codes: 0 ok, 1 runtime failure (or: nothing running), 2 bad config or environment.

Long because it holds both sides of run.py: the foreground run (start, supervise, reload, stop)
and the commands that talk to a running system (--status, --kill, --shutdown).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from loguru import logger

from polycopy.actors import system
from polycopy.config import Config, Mode, Secrets, check_reload, required_secrets_missing
from polycopy.ops.health import preflight
from polycopy.errors import ConfigError, SystemNotRunningError
from polycopy.messages import (
    Alert,
    Init,
    KillSwitchChanged,
    ReloadConfig,
    ResetKillSwitch,
    Shutdown,
    ShutdownDone,
    StatusReply,
    StatusRequest,
    TripKillSwitch,
)
from polycopy.store import control, open_db
from polycopy.store.db import DURABLE
from polycopy.store.private import tighten

LANE_ENV = "POLYCOPY_LANE"  # "off": the hot path stays on Thespian (a baseline for bench/)
ASK_TIMEOUT_S = 5
SHUTDOWN_ASK_S = 10
STOP_WAIT_S = 10
POLL_S = 1.0
SIM_TEST_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # Hardhat #0, public


class Polysim:
    """polysim as a child process for `--sim`: every endpoint points at it. With `replay` (a
    `--record` file) polysim replays that recording with its timing (polycopy/sim/replay.py)."""

    def __init__(self, scenario: Path | None = None, replay: Path | None = None):
        # The state folder: --sim keeps one; each replay starts from an empty one (fills already seen
        # or exposure already spent would change its decisions).
        self.state_dir = f"replay/{Path(replay).stem}-{time.strftime('%Y%m%d-%H%M%S')}" if replay else "sim"
        self.dir = Path(tempfile.mkdtemp(prefix="polysim-"))
        out = self.dir / "endpoints.json"
        cmd = [sys.executable, "-m", "polycopy.sim", "--endpoints-out", str(out)]
        if scenario:
            cmd += ["--scenario", str(scenario)]
        if replay:
            cmd += ["--replay", str(Path(replay).resolve())]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not out.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("polysim did not start (see its output above)")
            time.sleep(0.05)
        self.endpoints = json.loads(out.read_text())

    def venue_overrides(self, mempool: bool = False) -> dict:
        """Every endpoint at polysim; its Polygon node only when pending fills are copied (the
        mempool watcher costs a core's quarter in bursts and adds nothing to a demo otherwise)."""
        e = self.endpoints
        return {
            "clob_url": e["clob"],
            "rtds_url": e["rtds"],
            "data_api_url": e["data_api"],
            "gamma_url": e["gamma"],
            "clob_ws_market_url": e["clob_ws_market"],
            "clob_ws_user_url": e["clob_ws_user"],
            "geoblock_url": e["geoblock"],
            "relayer_url": e["relayer"],
            "polygon_rpc_url": e["polygon_rpc"],
            "polygon_ws_url": e["polygon"] if mempool else None,  # never a real node from --sim
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def sim_config(cfg: Config, sim: Polysim) -> Config:
    """Point every endpoint at polysim and keep its state apart from the real one."""
    venue = cfg.venue.model_copy(update=sim.venue_overrides(mempool=cfg.copy.copy_pending_fills))
    store = cfg.store.model_copy(update={"path": cfg.store.path.parent / sim.state_dir / cfg.store.path.name})
    return cfg.model_copy(update={"venue": venue, "store": store})


# ---------------------------------------------------------------- foreground run


def run(cfg: Config, secrets: Secrets, reload_config=None, config_path: Path | None = None,
        control_dir: Path | None = None, on_poll=None) -> int:
    """Start the system, supervise it until a signal or a --shutdown, stop it. Returns the exit code.

    The policy is reloaded on SIGHUP and when `config_path` changes on disk and then holds still
    for a poll (an editor's save in progress is never read half-written). `reload_config` returns
    the new Config or raises ConfigError; a refused policy keeps the old one and raises an alert.
    `control_dir` is where --status/--shutdown/--kill find the transport key (the config's state
    folder; `--sim` keeps its state in a subfolder of it). `on_poll` is called once a poll (a
    replay's progress bar).
    """
    from polycopy.actors.supervisor import Supervisor

    missing = required_secrets_missing(cfg.mode, secrets)
    if missing:
        logger.error("{} mode needs {} in the environment", cfg.mode.value, ", ".join(missing))
        return 2
    failures, close_only = preflight(cfg, secrets)
    for line in failures:
        logger.error("preflight: {}", line)
    if failures and cfg.mode is Mode.live:
        return 2  # fail fast: money moves only when every check passes
    if close_only:
        logger.warning("the venue allows this host to close positions only: starting close-only ({})", close_only)
    port = cfg.actors.admin_port
    tighten(cfg.store.path.parent, cfg.store.path.name, cfg.telemetry.log_path)  # files an older version left 0644
    asys = system.start_system(port, control_dir or cfg.store.path.parent, lane=lane_from_env())
    sup = asys.createActor(Supervisor, globalName=system.SUPERVISOR_NAME)
    asys.tell(sup, Init(config=cfg, entries_paused=close_only))
    logger.info("polycopy running in {} mode; admin port {} (loopback only)", cfg.mode.value, port)

    stop = {"reason": None, "reload": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(reason="sigterm"))
    signal.signal(signal.SIGINT, lambda *_: stop.update(reason="sigint"))
    signal.signal(signal.SIGHUP, lambda *_: stop.update(reload=True))
    notify = _systemd_notifier()
    notify("READY=1")
    db = open_db(cfg.store.path, cfg.store.synchronous)
    misses = 0
    mtime = seen = _mtime(config_path)
    while stop["reason"] is None:
        time.sleep(POLL_S)
        now = _mtime(config_path)
        if now != mtime and now == seen:  # changed, then unchanged for a whole poll
            mtime = now
            stop["reload"] = True
        seen = now
        if stop["reload"] and reload_config is not None:
            stop["reload"] = False
            cfg = _reload(asys, sup, cfg, reload_config)
        if not system.admin_answers(port):
            reason = control.shutdown_requested(db)
            if reason is not None:
                logger.info("system stopped by request ({})", reason)
                return 0
            logger.error("the actor system died")
            return 1
        reply = _ask(asys, sup, StatusRequest(), 2)
        misses = 0 if isinstance(reply, StatusReply) else misses + 1
        if misses >= 5:
            logger.error("supervisor has not answered for {} polls; stopping", misses)
            stop["reason"] = "supervisor unresponsive"
        notify("WATCHDOG=1")
        if on_poll is not None:
            on_poll()
    logger.info("stopping: {}", stop["reason"])
    notify("STOPPING=1")
    done, pids, killed = stop_system(asys, sup, port, stop["reason"])
    if not isinstance(done, ShutdownDone):
        logger.warning("supervisor did not confirm the shutdown; stopping the system anyway")
    if killed:
        logger.warning("{} of {} processes ignored the shutdown and were killed", killed, len(pids))
    return 0 if stop["reason"] in ("sigterm", "sigint") else 1


def lane_from_env() -> bool:
    """The hot path's lane is on unless POLYCOPY_LANE says off (bench/README.md: the baseline)."""
    return os.environ.get(LANE_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def _reload(asys, sup, cfg: Config, reload_config) -> Config:
    """The new policy if it passes every check, else the old one and an alert."""
    try:
        new = reload_config()
        check_reload(cfg, new)
    except ConfigError as e:
        logger.error("new policy refused, keeping the running one:\n{}", e)
        asys.tell(sup, Alert(condition="config_refused", text=f"new policy refused, keeping the running one: {e}"[:1000]))
        return cfg
    asys.tell(sup, ReloadConfig(config=new))
    asys.tell(sup, Alert(condition="config_refused", text="a valid policy was loaded", resolved=True))
    return new


def _mtime(path: Path | None) -> tuple | None:
    """What tells a changed file: an editor's rename-save may keep the mtime but not the inode."""
    try:
        st = path.stat() if path else None
        return (st.st_mtime_ns, st.st_size, st.st_ino) if st else None
    except OSError:
        return None


def _ask(asys, addr, msg, timeout_s):
    try:
        return asys.ask(addr, msg, timeout_s)
    except Exception as e:  # noqa: BLE001 - a dead system raises several kinds
        logger.debug("ask {} failed: {}", type(msg).__name__, e)
        return None


def _systemd_notifier():
    if not os.environ.get("NOTIFY_SOCKET"):
        return lambda _state: None
    import sdnotify

    n = sdnotify.SystemdNotifier()
    return n.notify


# ---------------------------------------------------------------- talking to the running system


def _attach(cfg: Config):
    from polycopy.actors.supervisor import Supervisor

    asys = system.attach_system(cfg.actors.admin_port, cfg.store.path.parent)
    return asys, asys.createActor(Supervisor, globalName=system.SUPERVISOR_NAME)


def status(cfg: Config) -> dict:
    asys, sup = _attach(cfg)
    reply = _ask(asys, sup, StatusRequest(), ASK_TIMEOUT_S)
    if not isinstance(reply, StatusReply):
        raise SystemNotRunningError("the running system did not answer the status request")
    return reply.status


def set_kill_switch(cfg: Config, tripped: bool, reason: str) -> str:
    """Trip or reset. With no system running, the persisted state is changed directly."""
    if not system.admin_answers(cfg.actors.admin_port):
        control.save_switch(open_db(cfg.store.path, DURABLE), control.KILL_SWITCH, tripped, reason)
        return f"kill switch {'tripped' if tripped else 'reset'} in {cfg.store.path} (no system running)"
    asys, sup = _attach(cfg)
    msg = TripKillSwitch(reason=reason, source="operator") if tripped else ResetKillSwitch(reason=reason)
    reply = _ask(asys, sup, msg, ASK_TIMEOUT_S)
    if not isinstance(reply, KillSwitchChanged):
        raise SystemNotRunningError("the running system did not confirm the kill switch change")
    return f"kill switch {'TRIPPED' if reply.tripped else 'reset'}: {reply.reason}"


def shutdown(cfg: Config) -> str:
    """Stop the running system and wait until every one of its processes is gone."""
    asys, sup = _attach(cfg)
    done, pids, killed = stop_system(asys, sup, cfg.actors.admin_port, "operator")
    note = "" if isinstance(done, ShutdownDone) else " (the supervisor did not confirm; processes were stopped anyway)"
    return f"stopped {len(pids)} processes{note}" + (f"; {killed} had to be killed" if killed else "")


def stop_system(asys, sup, port: int, reason: str):
    """Shutdown message, then the actor system, then SIGKILL for any process of it still alive.
    Returns (the supervisor's answer, the system's pids, how many had to be killed)."""
    reply = _ask(asys, sup, StatusRequest(), ASK_TIMEOUT_S)
    pids = system_pids(reply.status["pid"] if isinstance(reply, StatusReply) else None)
    done = _ask(asys, sup, Shutdown(reason=reason), SHUTDOWN_ASK_S)
    asys.shutdown()
    system.wait_port_closed(port, STOP_WAIT_S)
    _, alive = psutil.wait_procs([p for p in (_proc(pid) for pid in pids) if p], timeout=STOP_WAIT_S)
    for p in alive:
        p.kill()
    return done, pids, len(alive)


def system_pids(supervisor_pid: int | None) -> list[int]:
    """The admin (the supervisor's parent) and every process below it: actors and the logger."""
    sup = _proc(supervisor_pid) if supervisor_pid else None
    admin = sup.parent() if sup else None
    if admin is None:
        return [supervisor_pid] if supervisor_pid else []
    return sorted({admin.pid, *(c.pid for c in admin.children(recursive=True))})


def _proc(pid: int):
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None
