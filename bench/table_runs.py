"""Sections of bench/results/TABLE.md and lines of the README summary for the runs that compare
the lane on and off (latency, burst, mempool, micro-bursts), the capital lifecycle and chaos.
Every figure comes from the JSON files; a file that is missing leaves its part out."""
from __future__ import annotations

from decimal import Decimal

from bench.table_fmt import fmt, load, machine_line


def usd(text) -> str:
    """A pUSD amount as the JSON keeps it (a Decimal's string), to the cent."""
    return f"{Decimal(str(text)):,.2f}"


def trio(q: dict | None) -> str:
    q = q or {}
    return " / ".join(fmt(q.get(k)) for k in ("p50", "p95", "p99"))


def lane_rows() -> list[tuple[str, str, str, str]]:
    """(measure, lane on, lane off, files) for every pair that exists."""
    rows = []
    lat, lat_off = load("latency"), load("latency_lane_off")
    if lat and lat_off:
        for model in ("third_party", "fast"):
            on = lat["models"].get(model, {}).get("internal_pipeline_ms")
            off = lat_off["models"].get(model, {}).get("internal_pipeline_ms")
            if not (on and off):
                continue
            rows.append((f"internal, latency scenario, {model} feed (ms p50 / p95 / p99)", trio(on), trio(off),
                         "latency.json, latency_lane_off.json"))
    mb = load("microburst")
    if mb and {"on", "off"} <= set(mb["runs"]):
        on, off = mb["runs"]["on"], mb["runs"]["off"]
        rows.append(("16-fill transaction: leading order after its first frame (ms)", trio(on["leading_order_ms"]),
                     trio(off["leading_order_ms"]), "microburst.json"))
    burst, burst_off = load("burst"), load("burst_lane_off")
    if burst and burst_off:
        rows.append(("burst 200 fills/s: leading orders' internal (ms)", trio(burst["internal_ms"]),
                     trio(burst_off["internal_ms"]), "burst.json, burst_lane_off.json"))
        rows.append(("burst: max orders per burst / fills in flight watcher->intake",
                     f"{burst['max_orders_per_burst']} / {burst['max_queue_depth'].get('watcher_to_intake')}",
                     f"{burst_off['max_orders_per_burst']} / {burst_off['max_queue_depth'].get('watcher_to_intake')}",
                     "burst.json, burst_lane_off.json"))
    mp, mp_off = load("mempool"), load("mempool_lane_off")
    if mp and mp_off:
        rows.append(("mempool: copy delay minus the winning feed's lag, median per fill (ms)",
                     fmt(mp["verdict"].get("on_mempool_median_excess_ms")),
                     fmt(mp_off["verdict"].get("on_mempool_median_excess_ms")), "mempool.json, mempool_lane_off.json"))
    return rows


def lane_section() -> list[str]:
    rows = lane_rows()
    if not rows:
        return []
    out = ["## The hot path's lane on and off (`POLYCOPY_LANE=off` is the Thespian-only baseline)", "",
           "Each pair ran back to back in one session (see each file's machine line for its load).", "",
           "| measure | lane on | lane off | files |", "|---|---:|---:|---|"]
    out += [f"| {m} | {a} | {b} | {f} |" for m, a, b, f in rows]
    return out + [""]


def capital_line(d: dict) -> str:
    red = d["redemptions"]
    return (f"{d['windows']} one-minute windows, bankroll {d['bankroll_windows']} windows' caps, redeemer "
            f"{'on' if d['redeemer'] else 'off'}: {d['windows_traded']} windows traded, risk approved "
            f"{fmt(float(d['approved_shares']))} shares where the caps allow {fmt(float(d['allowed_shares']))} "
            f"({100 * d['copied_vs_caps']:.1f} %), {usd(d['filled_usd'])} pUSD filled ("
            f"{usd(Decimal(d['filled_usd']) / max(d['windows'], 1))} a window on average, cap "
            f"{usd(d['cap_per_window_usd'])}), {red['count']} redemptions "
            f"({usd(red['usd'])} pUSD, resolution to credit p50 {fmt((red['resolution_to_credit_s'] or {}).get('p50'))} s), "
            f"{sum(d['insufficient_balance'].values())} intents refused `insufficient_balance`, "
            f"{d['venue_balance_rejects']} venue balance rejects; PnL ours {usd(d['pnl']['ours_total'])} pUSD "
            f"(the venue's balance says {usd(d['venue_truth']['pnl_usd'])}), source "
            f"{usd(d['pnl']['source_total'])}, tracking error {usd(d['pnl']['tracking_error'])}; "
            f"alerts {d['alerts'] or 'none'}")


def chaos_line(d: dict) -> str:
    return (f"{d['minutes']:g} min, {d['copy_mode']}, {sum(d['restarts_by_actor'].values())} actor restarts and "
            f"{len(d['tree_restarts'])} whole-tree restarts: {d['copied']} of {d['eligible']} eligible fills copied "
            f"({d['copied_pct_by_fill']} %), {d['duplicates']} duplicate orders, overfill "
            f"{d['overfill']['overfill_shares']} shares, kill-switch trips {len(d['kill_switch_trips'])}; lost by reason "
            f"{d['lost'] or 'none'}")


def sections() -> list[str]:
    out = lane_section()
    for name, title in (("capital", "python -m bench.capital"), ("capital_no_redeem", "python -m bench.capital --no-redeem")):
        d = load(name)
        if d:
            out += [f"## Capital: `{title} --bankroll-windows {d['bankroll_windows']}`", "", machine_line(d), "",
                    capital_line(d) + ".", ""]
    d = load("chaos")
    if d:
        out += ["## Chaos: `python -m bench.chaos`", "", machine_line(d), "", chaos_line(d) + ".", ""]
    return out


def readme_lines() -> list[str]:
    out = []
    rows = lane_rows()
    if rows:
        out += ["| hot path (lane: `polycopy/lane/`) | lane on | Thespian only, same session |", "|---|---:|---:|"]
        out += [f"| {m} | {a} | {b} |" for m, a, b, _ in rows] + [""]
    for name in ("capital", "capital_no_redeem"):
        d = load(name)
        if d:
            out.append(f"Capital (`{name}.json`): {capital_line(d)}.")
    d = load("chaos")
    if d:
        out.append(f"Chaos (`chaos.json`): {chaos_line(d)}.")
    return out + ([""] if out else [])
