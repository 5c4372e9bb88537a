"""The policy sweep's table (ops/sweep.py): one row per variant, as Markdown, and the README's
generated section between `<!-- sweep-table:start -->` and `<!-- sweep-table:end -->`."""
from __future__ import annotations

import re

MARKERS = re.compile(r"(<!-- sweep-table:start -->\n).*?(<!-- sweep-table:end -->)", re.S)
HEAD = ("| variant | fills copied | size copied | orders | gap ¢ | gap bps | notional $ | refused by slippage "
        "(needed ¢) | PnL $ | tracking pp | delay p50 / p95 ms | first-fill delay p50 / p95 ms |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def _f(v, fmt="{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def row(r: dict) -> str:
    if "error" in r:
        return f"| {r['variant']} | failed: {r['error'][:80]} |" + " |" * 10
    d, first = r.get("copy_delay_ms") or {}, r.get("first_fill_delay_ms") or {}
    needed = f" ({_f(r['slippage_needed_cents'])})" if r.get("slippage_needed_cents") is not None else ""
    return (f"| {r['variant']} | {r['fills_copied']}/{r['source_fills']} | {_f(r['size_copied_pct'], '{:.1f}%')} "
            f"| {r['orders_sent']} | {_f(r['price_gap_cents'])} | {_f(r['price_gap_bps'], '{:.0f}')} "
            f"| {_f(float(r['notional_usd']))} | {r['slippage_refused']}{needed} | {_f(r['pnl_usd'])} "
            f"| {_f(r['tracking_error_pp'])} | {_f(d.get('p50'), '{:.0f}')} / {_f(d.get('p95'), '{:.0f}')} "
            f"| {_f(first.get('p50'), '{:.0f}')} / {_f(first.get('p95'), '{:.0f}')} |")


def changes(r: dict) -> str:
    flat = [f"{s}.{k}={v}" for s, kv in (r.get("set") or {}).items() for k, v in
            (kv.items() if isinstance(kv, dict) else [("", kv)])]
    return ", ".join(flat) or "the base policy"


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"Recording `{meta.get('recording')}`, base `{meta.get('base_config')}`; {len(rows)} variants, "
             f"{meta.get('jobs')} at a time on {meta.get('cores')} cores, {meta.get('elapsed_s')} s in all "
             f"({meta.get('date')}, load average at the end {meta.get('load_avg_at_end')}).", "", HEAD]
    lines += [row(r) for r in rows]
    lines += ["", "Variants: " + "; ".join(f"**{r['variant']}**: {changes(r)}" for r in rows) + "."]
    if all(r.get("pnl_usd") is None for r in rows if "error" not in r):
        lines += ["", "PnL and tracking error are empty: no resolution is known for the recording's markets "
                      "(give `resolutions` in the sweep file: the recorded markets end after the replay, so "
                      "none resolves during it)."]
    return "\n".join(lines)


def replace_section(readme: str, table: str) -> str:
    if not MARKERS.search(readme):
        raise ValueError("the README has no <!-- sweep-table:start --> ... <!-- sweep-table:end --> section")
    return MARKERS.sub(lambda m: m.group(1) + table + "\n" + m.group(2), readme)
