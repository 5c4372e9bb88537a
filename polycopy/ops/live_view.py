"""A terminal view of the running bot: `python -m polycopy.ops.live_view --config config.yaml [--sim]`.

What it shows answers the operator's three questions: is it copying (the source's positions
beside ours, per market outcome; the recent source trade -> our order waterfall), what is it
costing (cost, PnL and balance when the bot reports them, price gap, delay), is anything wrong
(why fills were not copied, feed health, alerts, the kill switch and whether entries are paused).

It reads the JSON snapshot the telemetry actor writes (atomically, once a second) in the state
folder, so it never touches the hot path, and works the same under systemd or in Docker (mount
the state folder). Keys: `q` quits; `k` trips the kill switch and `r` resets it, each after a
`y` to confirm: the messages `run.py --kill` / `--reset-kill` send (runner.set_kill_switch).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from polycopy.config.loader import control_config
from polycopy.errors import ConfigError
from polycopy.ops.copybook import clock
from polycopy.ops.keys import Controls, Keys
from polycopy.ops.metrics import snapshot_path

STALE_S = 5.0
OUTCOME_STYLE = {"filled": "green", "partial": "cyan", "dry_run": "cyan", "rejected": "red", "dropped": "yellow",
                 "not_sent": "yellow", "unfilled": "yellow", "unknown": "bold red"}


def load_snapshot(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _n(v, places: int = 2) -> str:
    return "-" if v is None else f"{v:,.{places}f}"


def _table(title: str, columns) -> Table:
    """A compact table: one line per row (long names end in "…"), numbers right-aligned."""
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, title_style="bold")
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i == 0 or col in ("market", "up", "outcome") else "right",
                     no_wrap=True, overflow="ellipsis", max_width=34 if col == "market" else None)
    return t


def header(snap: dict, now: float) -> Text:
    age = now - snap.get("t", 0)
    t = Text.assemble(("polycopy ", "bold"), (snap.get("mode", "?"), "bold cyan"), "  kill switch ")
    t.append(" TRIPPED ", "bold white on red") if snap.get("kill_switch") else t.append("armed", "green")
    paused = snap.get("entries_paused")
    t.append("  entries ")
    t.append(f"PAUSED ({paused})" if paused else "open", "bold yellow" if paused else "green")
    if snap.get("balance_usd") is not None:
        t.append(f"  balance {_n(_float(snap['balance_usd']))} USD", "bold")
    t.append(f"  snapshot {age:.0f} s old", "red" if age > STALE_S else "dim")
    if age > STALE_S:
        t.append(" (is the bot running?)", "red")
    return t


def positions_table(snap: dict, rows: int = 8) -> Table:
    pnl = {str(k): v for k, v in (snap.get("pnl_by_token") or {}).items()}
    t = _table("positions: source vs ours (net shares, net cost USD)",
               ["market", "source shares", "source cost", "our shares", "our cost", "ours/source"]
               + (["PnL USD"] if pnl else []))
    for p in (snap.get("positions") or [])[:rows]:
        src, ours = _float(p.get("source_shares")), _float(p.get("shares"))
        ratio = f"{ours / src + 0.0:.0%}" if src else "-"
        cells = [p.get("market") or p.get("token_id", "?")[:12], _n(src), _n(_float(p.get("source_cost_usd"))),
                 _n(ours), _n(_float(p.get("cost_usd"))), ratio]
        if pnl:
            v = pnl.get(p.get("token_id", ""))
            cells.append(Text(_n(_float(v)), "green" if _float(v) >= 0 else "red") if v is not None else "-")
        t.add_row(*cells)
    return t


def waterfall_table(snap: dict, rows: int = 10) -> Table:
    t = _table("recent copies: source trade -> our order (gap: ours - source, + = worse for us)",
               ["time", "market", "source", "ours", "delay s", "gap ¢", "outcome"])
    for c in (snap.get("waterfall") or [])[:rows]:
        side = c.get("side", "")
        src = f"{side} {_n(c.get('source_size'))} @ {_n(c.get('source_price'), 3)}" if side else "-"
        ours = f"{_n(c.get('size'))} @ {_n(c.get('price'), 3)}" if c.get("size") else "-"
        gap = c.get("gap_cents")
        outcome = c.get("outcome", "")
        why = f" {c['reason']}" if c.get("reason") else ""
        t.add_row(clock(c.get("t", 0)), c.get("market", ""), src, ours,
                  _n(None if c.get("delay_ms") is None else c["delay_ms"] / 1000),
                  Text(_n(gap), "red" if (gap or 0) > 0 else "green") if gap is not None else "-",
                  Text(outcome + why, OUTCOME_STYLE.get(outcome, "")))
    return t


def not_copied_table(snap: dict, rows: int = 8) -> Table:
    t = _table("not copied (this run)", ["stage:reason", "n"])
    counts = (snap.get("fidelity") or {}).get("not_copied") or {}
    for k, v in list(counts.items())[:rows]:
        t.add_row(k, str(v))
    return t


def feeds_table(snap: dict) -> Table:
    t = _table("feeds", ["feed", "up", "silent s", "reconnects", "first", "lag p50 ms"])
    for name, f in sorted((snap.get("feeds") or {}).items()):
        up = "[red]OPEN[/]" if f.get("circuit_open") else ("[green]yes[/]" if f.get("connected") else "[red]no[/]")
        t.add_row(name, up, _n(f.get("silence_s"), 1), str(f.get("reconnects", 0)), str(f.get("first_seen", "-")),
                  _n(f.get("lag_source_ms_p50"), 0))
    return t


def latency_line(snap: dict) -> Text:
    t = Text("latency p50/p95 ms  ", "dim")
    for name, key in (("internal", "internal_ms"), ("copy delay", "copy_delay_ms"), ("detection", "detection_lag_ms")):
        q = snap.get(key) or {}
        t.append(f"{name} ")
        t.append(f"{_n(q.get('p50'), 1)}/{_n(q.get('p95'), 1)}", "bold")
        t.append(f" (n={q.get('n', 0)})   ", "dim")
    return t


def capital_line(snap: dict) -> Text:
    """PnL (ours, the source's, tracking error) and redemptions, from the ledger's report (nothing
    before it reports; the balance is in the header)."""
    c = snap.get("capital") or {}
    pnl, red = c.get("pnl") or {}, c.get("redemptions") or {}
    if not pnl and not red:
        return Text("")
    return Text(f"PnL ours {cents(pnl.get('ours_total'))}  source {cents(pnl.get('source_total'))}  tracking error "
                f"{cents(pnl.get('tracking_error'))}   redeemed {red.get('redeemed', 0)} "
                f"({cents(red.get('redeemed_usd', '0'))} pUSD), pending {red.get('pending', 0)}")


BIG_USD = Decimal("1e15")  # beyond any real amount: a broken snapshot, not a number to print in full


def cents(value) -> str:
    """A pUSD amount from the snapshot (a Decimal's string) to the cent; '-' when absent or not a number."""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "-"
    return f"{d:,.2f}" if d.is_finite() and abs(d) < BIG_USD else "-"


def fidelity_line(snap: dict) -> Text:
    f = snap.get("fidelity") or {}
    t = Text("copy fidelity  ", "dim")
    share = f.get("size_copied_share")
    t.append(f"size copied {share:.0%} of the source's" if share is not None else "size copied -", "bold")
    gap = f.get("price_gap_cents") or {}
    t.append(f"   price gap p50/p95 {_n(gap.get('p50'))}/{_n(gap.get('p95'))} ¢ over {f.get('copies', 0)} copies")
    return t


def alerts_text(snap: dict) -> Text:
    firing = snap.get("alerts_firing") or {}
    if not firing:
        return Text("alerts: none firing", "green")
    t = Text("alerts firing: ", "bold red")
    t.append("; ".join(f"{c}: {a.get('text', '')}"[:90] for c, a in firing.items()), "red")
    return t


def side_by_side(*tables) -> Table:
    grid = Table.grid(expand=True)
    for _ in tables:
        grid.add_column(ratio=1)
    grid.add_row(*tables)
    return grid


def render(snap: dict | None, now: float | None = None, footer: Text | None = None):
    now = time.time() if now is None else now
    foot = footer or Text("q quit   k kill switch   r reset kill switch", "dim")
    if snap is None:
        return Group(Text("no telemetry snapshot yet: is the bot running with this config (and --sim if it runs "
                          "with --sim)?", "yellow"), foot)
    return Group(header(snap, now), capital_line(snap), latency_line(snap), fidelity_line(snap), alerts_text(snap),
                 positions_table(snap),
                 waterfall_table(snap), side_by_side(not_copied_table(snap), feeds_table(snap)), foot)


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
    if args.once or not sys.stdin.isatty():
        console.print(render(load_snapshot(path)))
        return 0
    controls = Controls(args.config)
    with Keys() as keys, Live(render(load_snapshot(path)), console=console, screen=True,
                              auto_refresh=False) as live:
        next_read = 0.0
        while True:
            ch = keys.read(timeout_s=0.1)
            if ch and not controls.key(ch):
                return 0
            if ch or time.monotonic() >= next_read:
                next_read = time.monotonic() + args.interval
                live.update(render(load_snapshot(path), footer=controls.message), refresh=True)


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
