"""The report as one self-contained HTML page with charts: `python -m polycopy.ops.report --db ... --html F`.

Charts are SVG rendered here by pygal (pinned in setup.cfg) with its script turned off, inlined in
the page: nothing is fetched when the page is viewed, and it has no script at all (pygal's inline
config script, useless without pygal.js, is removed).

- copy delay (order signed - the source's fill time) and internal latency (our receipt -> order
  signed) histograms;
- price gap vs the source per copy, in cents, + = worse for us;
- what became of the source's trades over the run: copied, or not and why, as shares of the
  decisions in each time slice;
- PnL ours vs the source per market, when resolutions are given (`--resolutions`: token id ->
  payout per share, as the sweep takes them);
- per-feed lag (stored - source time of each fill) as box plots.
Tables under them: the run's figures (report.build), positions and the last copies, by market name.
"""
from __future__ import annotations

import html
import math
import re
import time
from collections import Counter

import pygal
from pygal.style import CleanStyle

from polycopy.ops import copybook

COPIED = ("filled", "partial", "dry_run")
SLICES = 16
TOP_REASONS = 6
WIDTH, HEIGHT = 760, 360
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)


def collect(conn) -> dict:
    """Everything the charts need, from the database (read-only)."""
    name = copybook.namer(copybook.fill_names(conn))
    decisions = copybook.query(conn, "SELECT * FROM decisions ORDER BY id")
    intents = {i["intent_id"]: i for i in copybook.query(conn, "SELECT * FROM exec_intents")}
    orders = {o["intent_id"]: o for o in copybook.query(conn, "SELECT * FROM exec_orders")}
    rows = [copybook.copy_row(d, intents.get(d["intent_id"]), orders.get(d["intent_id"]), name) for d in decisions]
    internal = []
    for d in decisions:
        o = orders.get(d["intent_id"])
        if o is not None and o.get("signed_ts") and (d.get("recv_to_risk_ms") or -1) >= 0:
            internal.append(o["signed_ts"] * 1000 - (d["decided_ts"] * 1000 - d["recv_to_risk_ms"]))
    lags: dict[str, list[float]] = {}
    for f in copybook.query(conn, "SELECT feed, seen_ts_ms - source_ts_ms AS lag FROM fills "
                                  "WHERE source_ts_ms > 0 AND key NOT LIKE 'pending|%'"):
        lags.setdefault(f["feed"] or "?", []).append(float(f["lag"]))
    mode = copybook.mode_of(conn)
    return {"rows": rows, "internal_ms": internal, "lags": lags, "positions": copybook.positions(conn, name, mode),
            "mode": mode}


def _chart(kind, title: str, x_title: str = "", y_title: str = "", **kw):
    return kind(js=[], disable_xml_declaration=True, style=CleanStyle, width=WIDTH, height=HEIGHT, title=title,
                x_title=x_title, y_title=y_title, show_legend=kw.pop("show_legend", True), legend_at_bottom=True,
                print_values=False, truncate_legend=40, **kw)


def svg(chart) -> str:
    """The chart's SVG, without pygal's inline config script (it only feeds pygal.js, which is not loaded)."""
    return SCRIPT.sub("", chart.render(is_unicode=True))


def histogram(values: list[float], title: str, unit: str, bins: int = 24) -> str:
    c = _chart(pygal.Histogram, title, x_title=unit, y_title="copies", show_legend=False)
    if values:
        lo, hi = min(values), max(values)
        width = (hi - lo) / bins or 1.0
        counts = Counter(min(bins - 1, int((v - lo) / width)) for v in values)
        c.add(title, [(counts[i], lo + i * width, lo + (i + 1) * width) for i in range(bins) if counts[i]])
    return svg(c)


def outcomes_over_time(rows: list[dict]) -> str:
    c = _chart(pygal.StackedBar, "What became of the source's trades (share of decisions per time slice)",
               y_title="% of decisions", x_label_rotation=30)
    timed = sorted((r for r in rows if r["t"]), key=lambda r: r["t"])
    if not timed:
        return svg(c)
    t0, t1 = timed[0]["t"], timed[-1]["t"]
    step = max((t1 - t0) / SLICES, 1e-9)
    label = lambda r: ("copied" if r["outcome"] in COPIED  # noqa: E731
                       else f"{r['outcome']}: {r['reason'].split(':')[0] or '-'}")
    top = [k for k, _ in Counter(label(r) for r in timed if label(r) != "copied").most_common(TOP_REASONS)]
    cats = ["copied", *top, "other"]
    slices = [Counter() for _ in range(SLICES)]
    for r in timed:
        k = label(r)
        slices[min(SLICES - 1, int((r["t"] - t0) / step))][k if k in cats else "other"] += 1
    c.x_labels = [time.strftime("%H:%M", time.localtime(t0 + i * step)) for i in range(SLICES)]
    for cat in cats:
        c.add(cat, [round(100 * s[cat] / sum(s.values()), 1) if s else None for s in slices])
    return svg(c)


def pnl_chart(positions: list[dict], resolutions: dict[str, float]) -> str:
    c = _chart(pygal.Bar, "PnL at resolution, ours vs the source (USD)", y_title="USD", x_label_rotation=20)
    rows = [p for p in positions if p["token_id"] in resolutions]
    c.x_labels = [p["market"] for p in rows]
    c.add("source", [round(p["source_shares"] * resolutions[p["token_id"]] - p["source_cost_usd"], 2) for p in rows])
    c.add("ours", [round(p["shares"] * resolutions[p["token_id"]] - p["cost_usd"], 2) for p in rows])
    return svg(c)


def lag_chart(lags: dict[str, list[float]]) -> str:
    c = _chart(pygal.Box, "Per-feed lag: fill stored - source time (ms)", y_title="ms", box_mode="tukey")
    for feed, values in sorted(lags.items()):
        c.add(f"{feed} (n={len(values)})", values)
    return svg(c)


def page(summary: dict, data: dict, resolutions: dict[str, float] | None, title: str) -> str:
    rows = data["rows"]
    copied = [r for r in rows if r["outcome"] in COPIED]
    delays = [r["delay_ms"] / 1000 for r in copied if r["delay_ms"] is not None]
    gaps = [r["gap_cents"] for r in copied if r["gap_cents"] is not None]
    charts = [histogram(delays, "Copy delay: order signed - source fill", "seconds"),
              histogram(data["internal_ms"], "Internal latency: our receipt -> order signed", "ms"),
              histogram(gaps, "Price gap vs the source per copy (+ = worse for us)", "cents"),
              outcomes_over_time(rows), lag_chart(data["lags"])]
    pnl = (pnl_chart(data["positions"], resolutions) if resolutions else
           "<p class=note>PnL: no resolutions given (<code>--resolutions FILE</code>: token id -&gt; payout per "
           "share, JSON or YAML).</p>")
    share = f"{len(copied)} of {len(rows)} decisions copied" if rows else "no decisions in this database"
    return "".join([
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class=note>{share}; mode {html.escape(data['mode'])}; written "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}</p>",
        "<div class=grid>", *(f"<figure>{c}</figure>" for c in charts), f"<figure>{pnl}</figure>", "</div>",
        "<h2>Positions: source vs ours</h2>", positions_table(data["positions"]),
        "<h2>Last copies: source trade -&gt; our order</h2>", copies_table(rows[-40:][::-1]),
        "<h2>Figures</h2>", figures_table(summary), "</body></html>"])


def _td(v, cls: str = "") -> str:
    if isinstance(v, float):
        v = "-" if math.isnan(v) else f"{v:,.2f}"
    text = html.escape("-" if v is None or v == "" else str(v))
    return f"<td class={cls}>{text}</td>" if cls else f"<td>{text}</td>"


def positions_table(positions: list[dict]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("market", "source shares", "source cost USD", "our shares",
                                             "our cost USD"))
    body = "".join("<tr>" + _td(p["market"], "l") + "".join(_td(p[k]) for k in (
        "source_shares", "source_cost_usd", "shares", "cost_usd")) + "</tr>" for p in positions)
    return f"<table><tr>{head}</tr>{body}</table>"


def copies_table(rows: list[dict]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("time", "market", "side", "source size", "source price", "our size",
                                             "our price", "delay s", "gap ¢", "outcome"))
    body = "".join(
        f"<tr class={html.escape(r['outcome'])}>" + _td(copybook.clock(r["t"]), "l") + _td(r["market"], "l")
        + _td(r["side"], "l") + _td(r["source_size"] or None) + _td(r["source_price"] or None)
        + _td(r["size"]) + _td(r["price"])
        + _td(None if r["delay_ms"] is None else r["delay_ms"] / 1000) + _td(r["gap_cents"])
        + _td(f"{r['outcome']} {r['reason']}".strip(), "l") + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def figures_table(summary: dict) -> str:
    out = []
    for section, value in summary.items():
        cells = ", ".join(f"{k}: {v}" for k, v in (value or {}).items()) or "(none)"
        out.append(f"<tr><th>{html.escape(section.replace('_', ' '))}</th>{_td(cells)}</tr>")
    return f"<table class=figures>{''.join(out)}</table>"


CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}.note{color:#666}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
figure svg{width:100%;height:auto}
table{border-collapse:collapse;background:#fff;font-variant-numeric:tabular-nums}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th,td.l,.figures td{text-align:left}
tr.rejected td,tr.not_sent td,tr.dropped td{color:#a33}
tr.filled td:last-child{color:#262}"""
