"""A terminal view of the running bot: `python -m polycopy.ops.live_view --config config.yaml`.

It only reads the JSON snapshot the telemetry actor writes (atomically, once a second) in the
state folder, so it never touches the actor system or the hot path, and it works the same when
the bot runs under systemd or in Docker (mount the state folder). Ctrl-C leaves.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from polycopy.config.loader import control_config
from polycopy.errors import ConfigError
from polycopy.ops.metrics import snapshot_path

STALE_S = 5.0


def load_snapshot(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _ms(v) -> str:
    return "-" if v is None else f"{v:,.1f}"


def header(snap: dict, now: float) -> Text:
    age = now - snap.get("t", 0)
    t = Text.assemble(("polycopy ", "bold"), (snap.get("mode", "?"), "bold cyan"), "  kill switch: ")
    t.append("TRIPPED", "bold white on red") if snap.get("kill_switch") else t.append("armed", "green")
    t.append(f"  snapshot {age:.0f} s old", "red" if age > STALE_S else "dim")
    if age > STALE_S:
        t.append("  (is the bot running?)", "red")
    port = snap.get("metrics_port")
    t.append(f"  metrics 127.0.0.1:{port}" if port else "  metrics off", "dim")
    return t


def latency_table(snap: dict) -> Table:
    t = Table(title="latency (ms)", expand=True)
    for col in ("", "p50", "p95", "p99", "max", "n"):
        t.add_column(col, justify="right" if col else "left")
    for name, key in (("internal", "internal_ms"), ("internal w/o burst hold", "work_ms"), ("copy delay", "copy_delay_ms"),
                      ("detection lag", "detection_lag_ms")):
        q = snap.get(key) or {}
        t.add_row(name, *(_ms(q.get(k)) for k in ("p50", "p95", "p99", "max")), str(q.get("n", 0)))
    return t


def feeds_table(snap: dict) -> Table:
    t = Table(title="feeds", expand=True)
    for col in ("feed", "connected", "silence s", "reconnects", "malformed", "circuit", "first seen"):
        t.add_column(col)
    for name, f in sorted((snap.get("feeds") or {}).items()):
        t.add_row(name, "[green]yes[/]" if f.get("connected") else "[red]no[/]", f"{f.get('silence_s', 0):.1f}",
                  str(f.get("reconnects", 0)), str(f.get("malformed", 0)),
                  "[red]OPEN[/]" if f.get("circuit_open") else "closed", str(f.get("first_seen", "-")))
    return t


def counters_table(snap: dict) -> Table:
    t = Table(title="counters", expand=True)
    t.add_column("what")
    t.add_column("n", justify="right")
    for k, v in sorted((snap.get("counters") or {}).items()):
        t.add_row(k, str(v))
    return t


def alerts_panel(snap: dict) -> Panel:
    lines = [Text(f"FIRING {c}: {a.get('text', '')}", "bold red") for c, a in (snap.get("alerts_firing") or {}).items()]
    for a in list(snap.get("alerts_recent") or [])[-6:]:
        when = datetime.fromtimestamp(a.get("t", 0)).strftime("%H:%M:%S")
        lines.append(Text(f"{when} {'resolved' if a.get('resolved') else 'ALERT'} {a.get('condition')}: {a.get('text')}",
                          "green" if a.get("resolved") else "yellow"))
    return Panel(Group(*lines) if lines else Text("no alerts", "green"), title="alerts")


def copies_table(snap: dict) -> Table:
    t = Table(title="recent copies", expand=True)
    for col in ("time", "correlation id", "internal ms", "copy delay ms"):
        t.add_column(col)
    for c in reversed(list(snap.get("copies_recent") or [])[-8:]):
        t.add_row(datetime.fromtimestamp(c.get("t", 0)).strftime("%H:%M:%S"), c.get("corr", ""),
                  _ms(c.get("internal_ms")), _ms(c.get("copy_delay_ms")))
    return t


def positions_table(snap: dict) -> Table:
    t = Table(title="target positions (dry run / paper)", expand=True)
    for col in ("token", "shares", "cost USD"):
        t.add_column(col)
    for p in snap.get("positions") or []:
        t.add_row(p["token_id"][:20], p["shares"], p["cost_usd"])
    return t


def capital_line(snap: dict) -> Text:
    """Balance, PnL (ours, the source's, tracking error) and redemptions, from the ledger's report."""
    c = snap.get("capital") or {}
    pnl, red = c.get("pnl") or {}, c.get("redemptions") or {}
    return Text(f"balance {c.get('balance_usd') or '-'} pUSD   PnL ours {pnl.get('ours_total', '-')}  source "
                f"{pnl.get('source_total', '-')}  tracking error {pnl.get('tracking_error', '-')}   redeemed "
                f"{red.get('redeemed', 0)} ({red.get('redeemed_usd', '0')} pUSD), pending {red.get('pending', 0)}")


def render(snap: dict | None, now: float | None = None):
    now = time.time() if now is None else now
    if snap is None:
        return Panel(Text("no telemetry snapshot yet: is the bot running with this config?", "yellow"), title="polycopy")
    parts = [header(snap, now), capital_line(snap), latency_table(snap), feeds_table(snap), alerts_panel(snap), copies_table(snap),
             counters_table(snap)]
    if snap.get("positions"):
        parts.append(positions_table(snap))
    return Group(*parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m polycopy.ops.live_view", description="live terminal view of polycopy")
    p.add_argument("--config", required=True, type=Path)
    p.add_argument("--interval", type=float, default=1.0, help="refresh period, seconds")
    p.add_argument("--once", action="store_true", help="print one frame and exit")
    p.add_argument("--sim", action="store_true", help="watch a `run.py --sim` run (its state is in a sim/ folder)")
    args = p.parse_args(argv)
    try:
        path = snapshot_path(control_config(args.config))  # only the state folder is needed
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    if args.sim:
        path = path.parent / "sim" / path.name
    console = Console()
    if args.once:
        console.print(render(load_snapshot(path)))
        return 0
    try:
        with Live(render(load_snapshot(path)), console=console, refresh_per_second=4, screen=False) as live:
            while True:
                time.sleep(args.interval)
                live.update(render(load_snapshot(path)))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
