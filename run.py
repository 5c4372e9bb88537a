#!/usr/bin/env python3
"""polycopy: parse, load config, configure logging, then run or talk to the running system."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from loguru import logger

from polycopy import runner
from polycopy.config import dotenv_path, load_config, process_secrets, use_dotenv, with_secret_urls
from polycopy.config.loader import control_config
from polycopy.errors import ConfigError, PolycopyError, SystemNotRunningError, SystemRunningError
from polycopy.ops import progress
from polycopy.ops.logs import make_scrubber, setup_logging, stdout_is_json
from polycopy.store.private import private_umask


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run.py", description="Copy one Polymarket wallet's trades.")
    p.add_argument("--config", required=True, type=Path, help="policy YAML (see config.yaml)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", dest="mode", action="store_const", const="dry_run", help="log and record orders, send nothing")
    mode.add_argument("--paper", dest="mode", action="store_const", const="paper", help="fill orders against the live book, on paper")
    mode.add_argument("--live", dest="mode", action="store_const", const="live", help="send real orders")
    p.add_argument("--sim", action="store_true", help="start polysim on loopback and point every endpoint at it (paper mode unless told)")
    p.add_argument("--scenario", type=Path, help="polysim scenario for --sim")
    p.add_argument("--record", type=Path, metavar="FILE", help="append the raw source feed (RTDS frames, backstop rows) to FILE")
    p.add_argument("--replay", type=Path, metavar="FILE", help="--sim with polysim replaying a --record FILE (paper mode unless told)")
    p.add_argument("--log-format", choices=("human", "json"),
                   help="stdout: one human line per event, or JSON lines (default: telemetry.log_format; "
                        "auto = human on a terminal, JSON otherwise); polycopy.log is always JSON")
    cmd = p.add_mutually_exclusive_group()
    cmd.add_argument("--healthcheck", action="store_true", help="run the preflight checks and exit")
    cmd.add_argument("--shutdown", action="store_true", help="stop the running system and wait until it is gone")
    cmd.add_argument("--status", action="store_true", help="print the running system's status as JSON")
    cmd.add_argument("--kill", nargs="?", const="operator", metavar="REASON", help="trip the kill switch: no new orders")
    cmd.add_argument("--reset-kill", action="store_true", help="reset the kill switch")
    return p.parse_args(argv)


def main(argv=None) -> int:
    private_umask()  # state, logs and the transport key: readable by this user only
    args = parse_args(argv)
    overrides = {}
    args.sim = args.sim or args.replay is not None
    control = args.status or args.shutdown or bool(args.kill) or args.reset_kill
    if args.mode or args.sim:
        overrides["execution"] = {"mode": args.mode or "paper"}
    if args.record:
        overrides["detection"] = {"record_path": str(args.record.resolve())}
    if args.replay is not None and not args.replay.is_file():
        print(f"replay file not found: {args.replay}", file=sys.stderr)
        return 2
    scrub = str
    try:
        use_dotenv(dotenv_path(args.config))  # this process and every process it forks
        secrets = process_secrets()
        scrub = make_scrubber(secrets.values())
        cfg = with_secret_urls(load_config(args.config, overrides), secrets)
    except ConfigError as e:
        print(f"config error: {scrub(str(e))}", file=sys.stderr)
        if not control:
            return 2
        try:  # the operator can still stop the bot or trip the kill switch while the file is broken
            cfg, secrets = control_config(args.config), process_secrets()
        except ConfigError as e2:
            print(f"config error: {scrub(str(e2))}", file=sys.stderr)
            return 2
    json_stdout = not control and stdout_is_json(args.log_format or cfg.telemetry.log_format)
    args.progress = args.replay is not None and not json_stdout and progress.enabled()
    setup_logging(
        level=cfg.telemetry.log_level,
        console_level="WARNING" if args.progress else None,  # the bar shows the replay; the file has every line
        log_path=None if (args.status or args.shutdown) else cfg.telemetry.log_path,
        json_stdout=json_stdout,
        secret_values=secrets.values(),
        rotate_mb=cfg.telemetry.log_rotate_mb,
        keep_files=cfg.telemetry.log_keep_files,
    )
    if not control:
        _warn_about_dotenv(args.config)
    try:
        if args.status:
            print(json.dumps(runner.status(cfg), indent=2, sort_keys=True))
            return 0
        if args.shutdown:
            print(runner.shutdown(cfg))
            return 0
        if args.kill or args.reset_kill:
            print(runner.set_kill_switch(cfg, bool(args.kill), args.kill or "operator reset"))
            return 0
        return _run(args, cfg, secrets, overrides)
    except SystemNotRunningError as e:
        print(str(e), file=sys.stderr)
        return 1
    except SystemRunningError as e:
        print(str(e), file=sys.stderr)
        return 1
    except PolycopyError as e:
        logger.error("{}", e)
        return 1


def _warn_about_dotenv(config: Path) -> None:
    used, here = dotenv_path(config), Path(".env").absolute()
    if here.is_file() and here != used:
        logger.warning("{} is not read: secrets come from the environment and {} (beside the config file)", here, used)
    if used.is_file() and used.stat().st_mode & 0o077:
        logger.warning("{} can be read by other users: chmod 600 it", used)


def _run(args, cfg, secrets, overrides) -> int:
    sim = None
    control_dir = cfg.store.path.parent  # where --status finds the transport key: not moved by --sim
    if args.sim:
        if secrets.private_key is None:  # polysim accepts the public Hardhat #0 test key
            os.environ["POLYCOPY_PRIVATE_KEY"] = runner.SIM_TEST_KEY
            secrets = process_secrets()
        sim = runner.Polysim(args.scenario, args.replay)
        cfg = runner.sim_config(cfg, sim)
        logger.info("polysim on loopback: {}", sim.endpoints)
        if args.replay:
            logger.info("replaying {}; state in {}; then: python -m polycopy.ops.report --db {}", args.replay,
                        cfg.store.path.parent, cfg.store.path)

    def reload_config():  # raises ConfigError: the runner keeps the old policy and alerts
        new = with_secret_urls(load_config(args.config, overrides), secrets)
        return runner.sim_config(new, sim) if sim else new

    try:
        if args.healthcheck:  # with --sim: the checks run against polysim
            from polycopy.ops.health import healthcheck

            return healthcheck(cfg, secrets)
        if not args.progress:
            return runner.run(cfg, secrets, reload_config, args.config, control_dir)
        from polycopy.sim.replay import load_items

        items = load_items(args.replay)[1]
        with progress.progress_bar(total=items[-1][0] if items else 1, what="replay", unit="s") as bar:
            watch = progress.ReplayProgress(bar, cfg.store.path, items[-1][0] if items else 1)
            return runner.run(cfg, secrets, reload_config, args.config, control_dir, on_poll=watch)
    finally:
        if sim is not None:
            sim.stop()


if __name__ == "__main__":
    sys.exit(main())
