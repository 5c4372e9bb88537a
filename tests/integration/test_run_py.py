"""The operator's view: run.py --sim starts the whole system; a SIGKILLed child comes back;
--kill / --reset-kill / --status / --shutdown work from another process; nothing is left behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml

from tests.conftest import ROOT
from tests.integration.test_supervision import free_port, wait_for

pytestmark = pytest.mark.integration


def write_config(tmp_path, port: int):
    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    raw["store"]["path"] = str(tmp_path / "state" / "polycopy.sqlite")
    raw["telemetry"]["log_path"] = str(tmp_path / "state" / "polycopy.log")
    raw["telemetry"]["metrics_port"] = 0
    raw["actors"]["admin_port"] = port
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def cli(config, *args, timeout=60):
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=config.parent)


def status(config):
    r = cli(config, "--status")
    return json.loads(r.stdout) if r.returncode == 0 else None


def alive(pid: int) -> bool:
    return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


@pytest.fixture
def bot(tmp_path):
    config = write_config(tmp_path, free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYCOPY_")}
    log = open(tmp_path / "run.out", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(config), "--sim"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    try:
        wait_for(lambda: (s := status(config)) and all(c["pid"] for c in s["children"].values()) and s,
                 timeout_s=60, what="the system to come up")
        yield config, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        log.close()


def test_full_lifecycle_through_run_py(bot, tmp_path):
    config, proc = bot
    st = status(config)
    assert st["mode"] == "paper"
    from polycopy import runner

    pids = runner.system_pids(st["pid"])
    assert len(pids) >= len(st["children"]) + 2

    # A child killed with SIGKILL is restarted as a new process.
    victim = st["children"]["risk"]["pid"]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: (c := status(config)["children"]["risk"])["restarts"] == 1 and c["pid"] not in (0, victim),
             timeout_s=30, what="risk restarted")

    # The operator trips and resets the kill switch from another process.
    r = cli(config, "--kill", "test trip")
    assert r.returncode == 0 and "TRIPPED" in r.stdout
    assert status(config)["kill_switch"] == {"tripped": True, "reason": "test trip (operator)"}
    r = cli(config, "--reset-kill")
    assert r.returncode == 0 and "reset" in r.stdout
    assert status(config)["kill_switch"]["tripped"] is False

    # A second bot on the same port is refused with a clear message.
    r = cli(config, "--sim", timeout=60)
    assert r.returncode == 1 and "already answers" in r.stderr

    # --shutdown stops everything; the runner exits 0; no process is left behind.
    pids = runner.system_pids(status(config)["pid"])
    r = cli(config, "--shutdown")
    assert r.returncode == 0, r.stderr
    assert proc.wait(20) == 0
    wait_for(lambda: not any(alive(p) for p in pids), timeout_s=15, what="every actor process to exit")
    assert cli(config, "--status").returncode == 1  # and --status does not start a system


def test_sigterm_stops_everything(bot):
    config, proc = bot
    pids = __import__("polycopy.runner", fromlist=["x"]).system_pids(status(config)["pid"])
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    wait_for(lambda: not any(alive(p) for p in pids), timeout_s=10, what="every actor process to exit")
    assert time.monotonic() - t0 < 10


def test_healthcheck_against_polysim_passes_and_fails_plainly_without_a_venue(tmp_path):
    config = write_config(tmp_path, free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYCOPY_")}
    ok = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(config), "--sim", "--live", "--healthcheck"],
                        capture_output=True, text=True, timeout=90, cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok   funds:" in ok.stdout and "FAIL" not in ok.stdout
    bad = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(config), "--live", "--healthcheck"],
                         capture_output=True, text=True, timeout=90, cwd=tmp_path, env=env)
    assert bad.returncode == 1
    assert "FAIL live mode needs POLYCOPY_PRIVATE_KEY in the environment" in bad.stdout
    assert "FAIL CLOB unreachable" in bad.stdout
