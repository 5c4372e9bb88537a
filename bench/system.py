"""polysim plus the real polycopy system (run.py --live), both as child processes, for one bench run.

    with BenchSystem(scenario_path, overrides) as bs:
        bs.wait_ready(); time.sleep(...)
    bs.records(), bs.db_rows(...), bs.log_records()   # after the run

polysim runs from a scenario file with its control API; run.py gets a config written from the
shipped config.yaml with every endpoint on polysim, state and logs in a temp dir, free ports,
and the public Hardhat #0 key that polysim funds. Every process we start is stopped by pid.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import requests
import yaml

from bench.machine import free_port
from polycopy import runner

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
SIM_TEST_KEY = runner.SIM_TEST_KEY  # the public test key run.py --sim signs with

BENCH_LIMITS = {  # wide enough that the benchmark measures speed, not the risk limits
    "sizing": {"max_notional_per_market_usd": 1_000_000, "max_total_notional_per_15m_window_usd": 1_000_000},
    "risk": {"max_daily_volume_usd": 10_000_000, "max_portfolio_notional_usd": 10_000_000},
}

# The supervisor kills an actor that has not answered a Ping for pong_timeout_ms (3 s shipped). A
# Ping waits behind the actor's backlog, so a busy risk actor gets killed, and until the lead's
# fix coalescers never learn the restarted risk's address (every later intent is a dead letter).
# The latency kill switch (risk.kill_p95_internal_ms, 250 ms shipped) trips on exactly what these
# runs measure (on a loaded 2-core box, the first copies after start-up are slow) and stops all
# copying. latency/baseline/burst measure speed, so they give actors 20 s and lift the latency
# kill; soak keeps the shipped values.
PATIENT = {"actors": {"pong_timeout_ms": 20000}, "risk": {"kill_p95_internal_ms": 600000}}


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


class BenchSystem:
    def __init__(self, scenario: Path, overrides: dict | None = None, name: str = "bench", patch: str = "",
                 mempool: bool = False, env: dict | None = None):
        self.scenario = Path(scenario)
        self.overrides = merge(BENCH_LIMITS, overrides or {})
        self.dir = Path(tempfile.mkdtemp(prefix=f"polycopy-{name}-"))
        self.sim = self.bot = None
        self.endpoints: dict = {}
        self.ready_mono_ns = 0
        self.pids: dict[str, int] = {}  # actor name -> pid (from the status)
        self.admin_port = free_port()
        self.final_records: dict | None = None
        self.last_status: dict | None = None
        self.patch = patch  # a benchmark-only experiment in bench/patches/sitecustomize.py
        self.mempool = mempool  # point venue.polygon_ws_url at polysim's node (the mempool watcher runs)
        self.env = dict(env or {})  # more POLYCOPY_* for run.py (a proxy wallet and its relayer key: bench.capital)

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> "BenchSystem":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.start_sim()
        self.start_bot()

    def start_sim(self) -> None:
        out = self.dir / "endpoints.json"
        self.sim = subprocess.Popen([PY, "-m", "polycopy.sim", "--scenario", str(self.scenario), "--endpoints-out",
                                     str(out)], cwd=REPO, stdin=subprocess.DEVNULL,
                                    stdout=open(self.dir / "polysim.out", "w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not out.exists():
            if self.sim.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"polysim did not start: see {self.dir / 'polysim.out'}")
            time.sleep(0.05)
        self.endpoints = json.loads(out.read_text())
        self.config_path = self.dir / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(self.config()))

    def start_bot(self) -> None:
        """run.py on this run's config and state folder (again after kill_tree: its output is appended)."""
        env = {**os.environ, "POLYCOPY_PRIVATE_KEY": SIM_TEST_KEY, "PYTHONPATH": str(REPO), **self.env}
        if self.patch:
            env.update(POLYCOPY_BENCH_PATCH=self.patch, PYTHONPATH=f"{REPO / 'bench' / 'patches'}:{REPO}")
        self.bot = subprocess.Popen([PY, str(REPO / "run.py"), "--config", str(self.config_path), "--live"],
                                    cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                                    stdout=open(self.dir / "run.out", "a"), stderr=subprocess.STDOUT)

    def kill_tree(self, timeout_s: float = 20) -> int:
        """SIGKILL the runner, its admin and every actor at once (a crash of the whole tree; the state
        folder stays as the crash left it). Returns how many processes were killed."""
        self.status()  # the latest pids
        pids = {self.bot.pid} | set(self.pids.values()) | set(self._own_processes())
        procs = [p for p in (_proc(pid) for pid in pids - {0, 1, os.getpid()}) if p is not None]
        for p in procs:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.Error:
                pass
        psutil.wait_procs(procs, timeout=timeout_s)
        self.bot.wait(timeout_s)
        self.pids.clear()  # never signal a pid of the dead tree again: it may belong to someone else now
        runner.system.wait_port_closed(self.admin_port, timeout_s)
        return len(procs)

    def config(self) -> dict:
        cfg = yaml.safe_load((REPO / "config.yaml").read_text())
        venue = runner.Polysim.venue_overrides(SimpleNamespace(endpoints=self.endpoints), self.mempool)  # as --sim
        fixed = {"venue": venue, "store": {"path": str(self.dir / "state" / "polycopy.sqlite")},
                 "telemetry": {"log_path": str(self.dir / "state" / "polycopy.log"), "log_format": "human",
                               "metrics_port": free_port()},
                 "actors": {"admin_port": self.admin_port}, "execution": {"mode": "live"}}
        return merge(merge(cfg, self.overrides), fixed)

    def wait_ready(self, timeout_s: float = 60, need: tuple = ("rtds_sockets",)) -> None:
        """Until every actor answers in the status and polysim counts a socket for each of `need`
        (its /stats keys); then stamp ready_mono_ns."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.bot.poll() is not None:
                raise RuntimeError(f"run.py exited with {self.bot.returncode}: see {self.dir / 'run.out'}")
            st = self.status()
            kids = (st or {}).get("children", {})
            stats = self.stats()
            if kids and all(c["alive"] for c in kids.values()) and all(stats.get(k, 0) >= 1 for k in need):
                self.ready_mono_ns = time.monotonic_ns()
                return
            time.sleep(0.5)
        raise RuntimeError(f"the system did not become ready in {timeout_s}s: see {self.dir / 'run.out'}")

    def status(self) -> dict | None:
        """run.py --status (JSON); also remembers the pid of every actor and of the admin."""
        try:
            out = subprocess.run([PY, str(REPO / "run.py"), "--config", str(self.config_path), "--status"],
                                 cwd=self.dir, capture_output=True, text=True, timeout=20,
                                 env={**os.environ, "PYTHONPATH": str(REPO)})
            st = json.loads(out.stdout) if out.returncode == 0 else None
        except (subprocess.TimeoutExpired, json.JSONDecodeError):
            return None
        if st:
            self.pids["supervisor"] = st["pid"]
            for name, c in st.get("children", {}).items():
                if c.get("pid"):
                    self.pids[name] = c["pid"]
            admin = _parent(st["pid"])
            if admin:
                self.pids["admin"] = admin
        return st

    def restarts(self) -> dict:
        """Restarts per actor in the last status seen (the supervisor restarts what exits or stops answering)."""
        kids = (self.last_status or {}).get("children", {})
        return {name: c["restarts"] for name, c in kids.items() if c.get("restarts")}

    def stop(self) -> None:
        self.stop_bot()
        self.stop_sim()

    def stop_bot(self) -> None:
        """SIGTERM run.py (a clean stop), then end whatever of its tree is left."""
        if self.bot is not None and self.bot.poll() is None:
            self.last_status = self.status() or self.last_status  # latest pids and restart counts
            self.bot.send_signal(signal.SIGTERM)
            try:
                self.bot.wait(40)
            except subprocess.TimeoutExpired:
                self.bot.kill()
        pids = set(self.pids.values()) | set(self._own_processes())
        pids -= {0, 1, os.getpid()}
        leftovers = [p for p in (_proc(pid) for pid in pids) if p is not None]
        for p in leftovers:
            try:
                p.terminate()
            except psutil.Error:
                pass
        psutil.wait_procs(leftovers, timeout=5)

    def stop_sim(self) -> None:
        if self.sim is not None and self.sim.poll() is None:
            try:
                self.final_records = self.control("GET", "/records")  # the bot is gone: nothing changes now
                (self.dir / "polysim_records.json").write_text(json.dumps(self.final_records))
            except requests.RequestException:
                pass
            self.sim.send_signal(signal.SIGTERM)
            try:
                self.sim.wait(20)
            except subprocess.TimeoutExpired:
                self.sim.kill()

    def is_ours(self, pid: int) -> bool:
        """Is `pid` a process of this run's bot (not a --status of it)? Checked before a signal, as a
        pid seen in an older status may have been reused."""
        p = _proc(pid)
        try:
            cmd = p.cmdline() if p else []
        except psutil.Error:
            return False
        return str(self.config_path) in cmd and "--status" not in cmd

    def _own_processes(self) -> list[int]:
        """Pids whose command line names this run's own config file (the daemonised Thespian admin and
        its logger outlive run.py when a stop goes wrong); the temp path makes the match ours alone."""
        if not hasattr(self, "config_path"):
            return []
        mine = []
        for p in psutil.process_iter(["pid", "cmdline"]):
            if str(self.config_path) in (p.info.get("cmdline") or []):
                mine.append(p.info["pid"])
        return mine

    # ------------------------------------------------------------ polysim control API

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        r = requests.request(method, self.endpoints["control"] + path, json=body, timeout=30)
        r.raise_for_status()
        return r.json()

    def stats(self) -> dict:
        try:
            return self.control("GET", "/stats")
        except requests.RequestException:
            return {}

    def records(self) -> dict:
        """polysim's source-fill and CLOB request records (kept from the moment the bot stopped)."""
        if self.final_records is not None:
            return self.final_records
        return self.control("GET", "/records")

    def fault(self, kind: str, **kw) -> dict:
        return self.control("POST", "/faults", {"kind": kind, **kw})

    # ------------------------------------------------------------ after the run

    def db_rows(self, sql: str, args=()) -> list[dict]:
        con = sqlite3.connect(self.dir / "state" / "polycopy.sqlite")
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(sql, args)]
        except sqlite3.OperationalError:  # the table does not exist (nothing happened)
            return []
        finally:
            con.close()

    def log_records(self) -> list[dict]:
        """Every JSON log line of the run (all rotated files): {"ts", "level", "msg", "actor", extras}."""
        out = []
        for path in sorted((self.dir / "state").glob("polycopy*.log*")):
            with open(path) as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(rec, dict) and "msg" in rec:
                        out.append(rec)
        return out


def _proc(pid: int):
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _parent(pid: int) -> int | None:
    p = _proc(pid)
    try:
        return p.ppid() if p else None
    except psutil.Error:
        return None
