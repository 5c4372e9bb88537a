"""Shared steps of the end-to-end benchmarks: scenario variants, running until enough fills, and
turning a finished run into the latency figures."""
from __future__ import annotations

import time
from pathlib import Path

import yaml

from bench import collect
from bench.machine import quantiles
from polycopy.ops.progress import progress_bar

SCENARIOS = Path(__file__).parent / "scenarios"
FEED_MODELS = {
    # PROTOCOL.md section 7: RTDS orders_matched +1.9 s, trades +2.3 s, Data API +5 s (medians)
    "third_party": {"rtds_lag_ms": {"orders_matched": 1900, "trades": 2300}, "data_api_lag_ms": 5000},
    # a fast feed: what is left when the venue's push feed is quick
    "fast": {"rtds_lag_ms": {"orders_matched": 100, "trades": 150}, "data_api_lag_ms": 5000},
}


def scenario_variant(base: str, out_dir: Path, feeds: dict | None = None, **top) -> Path:
    """A copy of bench/scenarios/<base>.yaml with its feed lags (and top-level keys) replaced."""
    data = yaml.safe_load((SCENARIOS / f"{base}.yaml").read_text())
    if feeds:
        data["feeds"] = {**data.get("feeds", {}), **feeds}
    data.update(top)
    path = Path(out_dir) / f"{base}-scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_until(bs, fills_after_ready: int, tail_s: float, max_s: float) -> dict:
    """Wait until polysim has published `fills_after_ready` source fills since the bot was ready,
    then `tail_s` more (feed lag plus the pipeline). Returns the window in monotonic ns."""
    start = bs.stats().get("source_fills", 0)
    t0 = time.monotonic()
    last = start
    with progress_bar(total=fills_after_ready, what="source fills") as bar:
        while time.monotonic() - t0 < max_s:
            last = bs.stats().get("source_fills", last)
            bar.update(min(last - start, fills_after_ready))
            if last - start >= fills_after_ready:
                break
            time.sleep(1)
    until_ns = time.monotonic_ns()
    time.sleep(tail_s)
    return {"since_ns": bs.ready_mono_ns, "until_ns": until_ns, "source_fills_published": last - start,
            "wall_s": round(time.monotonic() - t0, 1)}


def risk_refusals(bs) -> dict:
    """Intents risk refused in the run, by reason (policy, e.g. near_expiry: not latency, not loss)."""
    rows = bs.db_rows("SELECT reason, count(*) AS n FROM decisions WHERE decision = 'rejected' GROUP BY reason")
    return {r["reason"]: r["n"] for r in rows}


def waits_for_backstop(row: dict) -> bool:
    """A repeat inside one transaction (occurrence > 0) first seen on RTDS is copied only once the
    backstop lists it too (policy/dedupe.py): its copy waits for the Data API's lag by policy."""
    return row["feed"] == "rtds" and not row["key"].endswith("|0")


def latency_figures(run: collect.Run, window: dict) -> dict:
    """copy delay, detection lag, internal (all ms) over the fills scheduled in the window."""
    rows = collect.per_fill(run, window["since_ns"], window["until_ns"])
    detected = [r for r in rows if r["recv_ns"]]
    copied = [r for r in detected if r["post_ns"]]
    internal = [(r["post_ns"] - r["recv_ns"]) / 1e6 for r in copied]
    waited = [r for r in copied if waits_for_backstop(r)]
    feeds = {}
    for r in detected:
        feeds[r["feed"]] = feeds.get(r["feed"], 0) + 1
    return {
        "copy_delay_ms": quantiles((r["post_ns"] - r["sched_ns"]) / 1e6 for r in copied),
        "detection_lag_ms": quantiles((r["recv_ns"] - r["sched_ns"]) / 1e6 for r in detected),
        "internal_ms": quantiles(internal),
        "internal_pipeline_ms": quantiles((r["post_ns"] - r["recv_ns"]) / 1e6 for r in copied if r not in waited),
        "copied_after_backstop_corroboration": len(waited),
        "source_fills": len(rows), "detected": len(detected), "copied": len(copied),
        "first_seen_by_feed": feeds, "provisional_rows_by_feed": run.other_fills,
    }
