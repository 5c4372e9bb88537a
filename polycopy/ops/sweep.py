"""Policy sweep: one recording replayed through polysim under N policy variants, one table.

    python -m polycopy.ops.sweep --sweep sweep.yaml --replay FEED.jsonl [--config config.yaml]
                                 [--jobs N] [--out DIR] [--readme README.md] [--json FILE]

Each variant is `run.py --config <base + its changes> --replay FEED` in its own folder (its
config, state folder, log and output), exactly what an operator would run alone; variants run
side by side, `--jobs` at a time (default: one per core). A variant is done when polysim says
the replay finished and the database has been quiet (no new decision, nothing in flight) for
`settle_s`; it is then stopped with SIGTERM and its figures are read from its database
(ops/replay_stats.py). The table is printed and written as sweep.md, sweep.csv and sweep.json
in the output folder; `--readme` replaces the README's generated section, `--json` copies the
JSON (e.g. bench/results/sweep.json).

The sweep file (YAML):

    config: config.yaml          # the base policy (default: --config, else ./config.yaml)
    settle_s: 4                  # quiet time that ends a variant (default: burst horizon + 2 s)
    resolutions: {<token id>: 1} # payout per share, for PnL and tracking error (optional)
    variants:
      - {name: bps120, set: {execution: {max_slippage_ticks: 0}}}
      - {name: ticks2, set: {execution: {max_slippage_ticks: 2}}}

Each variant's `set` is merged into the base policy, section by section. The reconciler is off
unless a variant turns it on: its corrections follow when it polls, not the feed, so they would
make variants differ by timing alone.

Long because it runs, watches and stops N replays side by side and renders their table three ways;
the figures of one replay are read by ops/replay_stats.py.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from polycopy.actors.system import free_port
from polycopy.config import load_config
from polycopy.errors import ConfigError
from polycopy.ops.replay_stats import figures
from polycopy.ops.sweep_table import markdown, replace_section
from polycopy.sim.replay import load_items

ROOT = Path(__file__).resolve().parents[2]
RUN_PY = ROOT / "run.py"
FINISHED = "polysim replay: finished"
START_S = 90  # run.py + polysim + actors up, RTDS connected (a loaded machine is slow)
STOP_S = 40


class Variant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,39}$")]
    set: dict = {}


class SweepFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    config: Optional[Path] = None
    settle_s: Optional[Annotated[float, Field(gt=0, le=120)]] = None
    resolutions: dict[str, Annotated[float, Field(ge=0, le=1)]] = {}
    variants: Annotated[list[Variant], Field(min_length=1, max_length=32)]

    @field_validator("variants")
    @classmethod
    def _unique(cls, v):
        names = [x.name for x in v]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        return v


def load_sweep(path: Path) -> SweepFile:
    try:
        spec = SweepFile.model_validate(yaml.safe_load(path.read_text()) or {})
    except (OSError, yaml.YAMLError, ValidationError) as e:
        raise ConfigError(f"{path}: {e}") from None
    if spec.config is not None and not spec.config.is_absolute():
        spec = spec.model_copy(update={"config": Path(os.path.normpath(path.parent / spec.config))})
    return spec


def merge(base: dict, changes: dict) -> dict:
    out = dict(base)
    for k, v in changes.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def variant_config(base: dict, v: Variant, vdir: Path) -> dict:
    """The variant's policy: base, reconciler off, its changes, then its own state and ports."""
    raw = merge(merge(base, {"reconcile": {"enabled": False}}), v.set)
    return merge(raw, {"store": {"path": str(vdir / "state" / "polycopy.sqlite")},
                       "telemetry": {"log_path": str(vdir / "state" / "polycopy.log"), "metrics_port": 0,
                                     "write_csv": False, "log_json_stdout": False},
                       "actors": {"admin_port": free_port()}})


def _signature(db: Path):
    """What changes while a run still works: decisions, and intents or orders not final yet."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
        try:
            q = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
            return (q("SELECT count(*) FROM decisions"),
                    q("SELECT count(*) FROM exec_intents WHERE state='received'"),
                    q("SELECT count(*) FROM exec_orders WHERE state IN ('signed','unknown','retry_wait')"))
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def run_variant(v: Variant, raw: dict, replay: Path, vdir: Path, settle_s: float, deadline_s: float,
                resolutions: dict, horizon_ms: int) -> dict:
    vdir.mkdir(parents=True, exist_ok=True)
    cfg_path = vdir / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {k: val for k, val in os.environ.items() if not k.startswith("POLYCOPY_")}  # the public sim key only
    started = time.monotonic()
    with open(vdir / "run.out", "w") as out:
        proc = subprocess.Popen([sys.executable, str(RUN_PY), "--config", str(cfg_path), "--replay", str(replay)],
                                cwd=vdir, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            db = _wait_done(proc, vdir, settle_s, started + deadline_s)
        finally:
            _stop(proc)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = figures(conn, resolutions or None, horizon_ms)
    finally:
        conn.close()
    return {"variant": v.name, "set": v.set, "elapsed_s": round(time.monotonic() - started, 1), "db": str(db), **row}


def _wait_done(proc, vdir: Path, settle_s: float, deadline: float) -> Path:
    log, db, finished, last, since = vdir / "run.out", None, False, None, 0.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"run.py exited with {proc.returncode} (see {log})")
        finished = finished or FINISHED in log.read_text(errors="replace")
        db = db or next(iter(sorted((vdir / "state" / "replay").glob("*/polycopy.sqlite"))), None)
        sig = _signature(db) if (finished and db) else None
        if sig is not None and sig != last:
            last, since = sig, time.monotonic()
        elif sig is not None and not any(sig[1:]) and time.monotonic() - since >= settle_s:
            return db
        time.sleep(0.25)
    raise RuntimeError(f"not done before the deadline (replay finished: {finished}; see {log})")


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run_sweep(spec: SweepFile, replay: Path, base_path: Path, out: Path, jobs: int, say=print) -> list[dict]:
    base = yaml.safe_load(base_path.read_text()) or {}
    for v in spec.variants:  # every variant must be a valid policy before anything runs
        try:
            load_config(base_path, merge({"reconcile": {"enabled": False}}, v.set))
        except ConfigError as e:
            raise ConfigError(f"variant {v.name}: {e}") from None
    items = load_items(replay)[1]
    duration = items[-1][0] if items else 0.0
    cfg = load_config(base_path, {})
    settle = spec.settle_s or cfg.copy.burst_horizon_ms / 1000 + 2
    n = len(spec.variants)
    horizon = {v.name: load_config(base_path, v.set).copy.burst_horizon_ms for v in spec.variants}

    def one(i_v):
        i, v = i_v
        say(f"[{i}/{n}] {v.name}: started")
        try:
            row = run_variant(v, variant_config(base, v, out / v.name), replay.resolve(), out / v.name, settle,
                              START_S + duration + settle + 60, spec.resolutions, horizon[v.name])
        except Exception as e:  # noqa: BLE001 - one failed variant is a row with its error, not a lost sweep
            say(f"[{i}/{n}] {v.name}: FAILED: {e}")
            return {"variant": v.name, "set": v.set, "error": str(e)}
        say(f"[{i}/{n}] {v.name}: done in {row['elapsed_s']} s: {row['fills_copied']}/{row['source_fills']} fills "
            f"copied, {row['orders_sent']} orders")
        return row

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, enumerate(spec.variants, 1)))


def write_outputs(rows: list[dict], out: Path, meta: dict) -> str:
    text = markdown(rows, meta)
    (out / "sweep.md").write_text(text + "\n")
    (out / "sweep.json").write_text(json.dumps({**meta, "variants": rows}, indent=2, default=str) + "\n")
    flat = [{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items()} for r in rows]
    fields = list(dict.fromkeys(k for r in flat for k in r))
    with open(out / "sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(flat)
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m polycopy.ops.sweep", description=__doc__.split("\n")[0])
    p.add_argument("--sweep", required=True, type=Path, help="the variants (YAML, see the module doc)")
    p.add_argument("--replay", required=True, type=Path, help="a run.py --record file")
    p.add_argument("--config", type=Path, help="base policy (default: the sweep file's `config`, else config.yaml)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="variants at once (default: cores)")
    p.add_argument("--out", type=Path, help="output folder (default: state/sweep/<recording>-<time>)")
    p.add_argument("--readme", type=Path, help="replace this README's generated sweep section with the table")
    p.add_argument("--json", type=Path, help="also write the JSON here (e.g. bench/results/sweep.json)")
    args = p.parse_args(argv)
    try:
        spec = load_sweep(args.sweep)
        if not args.replay.is_file():
            raise ConfigError(f"replay file not found: {args.replay}")
        base = args.config or spec.config or Path("config.yaml")
        out = args.out or Path("state/sweep") / f"{args.replay.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        rows = run_sweep(spec, args.replay, base, out, args.jobs, say=lambda s: print(s, flush=True))
    except ConfigError as e:
        print(f"sweep: {e}", file=sys.stderr)
        return 2
    meta = {"recording": args.replay.name, "base_config": str(base), "jobs": args.jobs, "cores": os.cpu_count(),
            "elapsed_s": round(time.monotonic() - t0, 1), "date": time.strftime("%Y-%m-%d %H:%M"),
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]}
    text = write_outputs(rows, out, meta)
    print(text)
    print(f"\nwritten: {out}/sweep.md, sweep.csv, sweep.json")
    if args.json:
        args.json.write_text((out / "sweep.json").read_text())
    if args.readme:
        args.readme.write_text(replace_section(args.readme.read_text(), text))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
