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


def listening_ports(pid: int) -> list[int]:
    return [c.laddr.port for c in psutil.Process(pid).net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]


def attack(port: int, marker, kind: str = "marker") -> str:
    r = subprocess.run([sys.executable, "-m", "tests.integration.attacker", str(port), str(marker), kind],
                       capture_output=True, text=True, timeout=30, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_a_pickle_from_another_process_is_dropped_unread(bot, tmp_path):
    """A plain pickle that would create a file, sent by a separate process to the admin port and to
    an actor's port, and a spoofed ActorExitRequest: nothing happens, and the operator's commands
    (which carry the key) still work."""
    from thespian.system.transport.streamBuffer import ackDataErrMsg

    config, proc = bot
    st = status(config)
    victim = st["children"]["risk"]["pid"]
    actor_ports = listening_ports(victim)  # its own, and those a fork inherited from its parents
    admin_port = yaml.safe_load(config.read_text())["actors"]["admin_port"]
    assert set(actor_ports) - {admin_port}
    marker = tmp_path / "marker"
    for port in (admin_port, *actor_ports):
        assert attack(port, marker) == ackDataErrMsg.hex()  # read, refused, answered: the frame was handled
        assert attack(port, marker, "exit") == ackDataErrMsg.hex()
    assert not marker.exists()
    after = status(config)
    assert after["children"]["risk"] == st["children"]["risk"] | {"pid": victim, "restarts": 0}
    log = (tmp_path / "state" / "polycopy.log").read_text()
    assert "unauthenticated frame(s) unread" in log
    r = cli(config, "--shutdown")
    assert r.returncode == 0, r.stderr
    assert proc.wait(20) == 0


def mode(path) -> str:
    return oct(path.stat().st_mode & 0o777)


def test_state_folder_and_files_are_private(bot, tmp_path):
    config, proc = bot
    state, sim = tmp_path / "state", tmp_path / "state" / "sim"
    wait_for(lambda: (sim / "telemetry.json").exists() and (sim / "target_trades.csv").exists(), timeout_s=60,
             what="a paper copy (the CSVs) and the telemetry snapshot")
    assert mode(state) == mode(sim) == "0o700"
    port = yaml.safe_load(config.read_text())["actors"]["admin_port"]
    files = [sim / n for n in ("polycopy.sqlite", "polycopy.sqlite-wal", "polycopy.sqlite-shm", "target_trades.csv",
                               "target_positions.csv", "telemetry.json")]
    files += [state / "polycopy.log", state / f"actors-{port}.key"]
    assert {f.name: mode(f) for f in files} == {f.name: "0o600" for f in files}


# ---------------------------------------------------------------- config that cannot lie, from run.py

KEY_IN_ENV = "0x" + "7a" * 32
KEY_IN_DOTENV = "0x" + "3c" * 32
PASTED = "0x" + "e1" * 32
CHECKSUMMED = "0x1d0034134e339a309700Ff2D34e99FA2d48b0313"


def edit(key: str, value):
    def apply(raw):
        *path, name = key.split(".")
        node = raw
        for p in path:
            node = node[p]
        node[name] = value
        return yaml.safe_dump(raw)
    return apply


def shipped_text(_raw) -> str:
    return (ROOT / "config.yaml").read_text()


CASES = [  # (what the file becomes, extra args, what the error must name)
    (lambda raw: "", [], "empty"),
    (lambda raw: f"# {PASTED}\n# nothing else\n", [], "empty"),
    (edit("detection.reconnect_min_ms", 60_000), [], "detection.reconnect_min_ms: must be at most detection.reconnect_max_ms"),
    (edit("actors.restart_backoff_min_ms", 20_000), [], "actors.restart_backoff_min_ms: must be at most"),
    (edit("sizing.min_order_notional_usd", 30), [], "sizing.min_order_notional_usd: must be at most sizing.max_notional_per_order_usd"),
    (edit("sizing.max_notional_per_order_usd", 200), [], "sizing.max_notional_per_order_usd: must be at most sizing.max_notional_per_market_usd"),
    (edit("actors.ping_interval_ms", 10**20), [], "actors.ping_interval_ms: Input should be less than or equal to"),
    (lambda raw: shipped_text(raw).replace("ping_interval_ms: 500", "ping_interval_ms: 1.0e+20"), [], "actors.ping_interval_ms"),
    (edit("copy.source_wallet", CHECKSUMMED.replace("Ff2D", "fF2D")), [], "copy.source_wallet: mixed-case address with a wrong EIP-55"),
    (edit("venue.chain_id", -1), [], "venue.chain_id: Input should be greater than 0"),
    (edit("venue.clob_url", "http://clob.example.com"), ["--live"], "venue.clob_url: live mode needs https://"),
    (edit("venue.rtds_url", "ws://rtds.example.com"), ["--live"], "venue.rtds_url: live mode needs wss://"),
    (lambda raw: shipped_text(raw).replace("  coalesce_ms: 300", f"  coalesce_ms: [300, {PASTED}"), [],
     "not valid YAML at line 7, column 3: expected ',' or ']'"),
    (lambda raw: shipped_text(raw).replace("  coalesce_ms: 300", f"  coalesce_ms: 300\n   bad: {PASTED}"), [], "not valid YAML at line"),
    (lambda raw: shipped_text(raw).replace("  max_notional_per_order_usd: 25", "  max_notional_per_order_usd: 2\n  max_notional_per_order_usd: 25"),
     [], "key max_notional_per_order_usd is written twice"),
    (edit("execution.private_key", PASTED), [], "execution.private_key: secrets are never read from the config file"),
]


@pytest.mark.parametrize("make,args,named", CASES)
def test_each_bad_config_exits_2_naming_the_key_and_echoing_no_secret(tmp_path, make, args, named):
    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    config = tmp_path / "config.yaml"
    config.write_text(make(raw))
    (tmp_path / ".env").write_text(f"POLYCOPY_API_SECRET={KEY_IN_DOTENV}\n")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("POLYCOPY_")}, "POLYCOPY_PRIVATE_KEY": KEY_IN_ENV}
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(config), *args],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert named in out
    for secret in (KEY_IN_ENV, KEY_IN_DOTENV, PASTED):
        assert secret[2:] not in out and secret[4:30] not in out


def test_a_bad_funder_in_dotenv_exits_2_naming_it(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text((ROOT / "config.yaml").read_text())
    (tmp_path / ".env").write_text(f"POLYCOPY_FUNDER={CHECKSUMMED.replace('Ff2D', 'fF2D')}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYCOPY_")}
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(config)],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert r.returncode == 2 and "POLYCOPY_FUNDER: mixed-case address with a wrong EIP-55" in r.stderr


def test_a_refused_reload_keeps_the_policy_and_alerts_and_kill_still_works(bot, tmp_path):
    config, proc = bot
    good = yaml.safe_load(config.read_text())
    snapshot = tmp_path / "state" / "sim" / "telemetry.json"

    def refused() -> int:
        try:
            return json.loads(snapshot.read_text())["counters"].get("alert:config_refused", 0)
        except (OSError, ValueError):
            return 0

    config.write_text("# the policy was here\n")  # an empty file used to mean: every cap back to its default
    wait_for(lambda: refused() == 1, timeout_s=30, what="the empty policy's alert")
    log = (tmp_path / "state" / "polycopy.log").read_text()
    assert "new policy refused, keeping the running one" in log and "empty (or only comments)" in log
    assert "config_refused" in json.loads(snapshot.read_text())["alerts_firing"]

    broken = {**good, "detection": {**good["detection"], "reconnect_min_ms": 60_000}}
    config.write_text(yaml.safe_dump(broken))
    r = cli(config, "--kill", "while the file is broken")  # the operator keeps the kill switch
    assert r.returncode == 0 and "TRIPPED" in r.stdout, r.stdout + r.stderr
    assert "config error:" in r.stderr and "detection.reconnect_min_ms" in r.stderr
    assert status(config)["kill_switch"]["tripped"] is True

    config.write_text(yaml.safe_dump({**good, "sizing": {**good["sizing"], "max_notional_per_order_usd": 2}}))
    wait_for(lambda: "policy reloaded" in (tmp_path / "state" / "polycopy.log").read_text(), timeout_s=30,
             what="the valid policy to load")
    wait_for(lambda: "config_refused" not in json.loads(snapshot.read_text())["alerts_firing"], timeout_s=10,
             what="the alert to resolve")
    assert refused() >= 1


def test_live_mode_with_the_key_only_in_the_dotenv_beside_the_config_places_an_order(tmp_path):
    """The key is in etc/.env beside etc/config.yaml, none in the environment, and the bot is started
    from another folder: the runner's preflight and the forked executor read the same file."""
    import sqlite3

    from polycopy.runner import SIM_TEST_KEY

    etc = tmp_path / "etc"
    etc.mkdir()
    config = write_config(tmp_path, free_port()).rename(etc / "config.yaml")
    (etc / ".env").write_text(f"POLYCOPY_PRIVATE_KEY={SIM_TEST_KEY}\n")
    (tmp_path / ".env").write_text("POLYCOPY_PRIVATE_KEY=0xnotthisone\n")  # the working directory's is not read
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYCOPY_")}
    log = open(tmp_path / "run.out", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(config), "--sim", "--live"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    db = tmp_path / "state" / "sim" / "polycopy.sqlite"

    def placed() -> int:
        if not db.exists():
            return 0
        with sqlite3.connect(db) as c:
            try:
                return c.execute("SELECT count(*) FROM exec_orders WHERE mode = 'live' AND state = 'accepted'").fetchone()[0]
            except sqlite3.OperationalError:  # the table is not there yet
                return 0

    try:
        wait_for(lambda: placed() > 0 or proc.poll() is not None, timeout_s=90, what="a live order at polysim")
        assert proc.poll() is None, (tmp_path / "run.out").read_text()[-3000:]
        st = status(config)
        assert st["mode"] == "live" and st["children"]["executor"]["restarts"] == 0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        log.close()
    out = (tmp_path / "run.out").read_text()
    assert "is not read: secrets come from the environment and" in out
    assert SIM_TEST_KEY[2:] not in out
