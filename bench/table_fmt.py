"""Formatting shared by bench/table.py and bench/table_runs.py: reading a result, numbers, rows."""
from __future__ import annotations

import json

from bench.machine import RESULTS


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def qrow(name: str, q: dict | None) -> str:
    q = q or {}
    return f"| {name} | {fmt(q.get('p50'))} | {fmt(q.get('p95'))} | {fmt(q.get('p99'))} | {fmt(q.get('max'))} | {q.get('n', 0)} |"


HEAD = "| | p50 | p95 | p99 | max | n |\n|---|---:|---:|---:|---:|---:|"


def machine_line(d: dict) -> str:
    m = d.get("machine", {})
    return (f"_{m.get('cores')} cores, {m.get('cpu_model')}, Python {m.get('python')}, {m.get('date')}, "
            f"load average (1, 5, 15 min) when the run ended {m.get('load_avg_at_end')}_")
