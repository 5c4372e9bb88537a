"""python -m bench.table: bench/results/TABLE.md, and the summary between the README's
`<!-- bench-table:start -->` and `<!-- bench-table:end -->` markers, from the JSON results. Long because each TABLE.md section is a
few lines of formatting of its own result file, kept side by side."""
from __future__ import annotations

import re

from bench import table_runs
from bench.machine import RESULTS
from bench.table_fmt import HEAD, fmt, load, machine_line, qrow

README = RESULTS.parent.parent / "README.md"
MARKERS = re.compile(r"(<!-- bench-table:start -->\n).*?(<!-- bench-table:end -->)", re.S)

STAGE_ORDER = ("decode", "intake", "coalesce", "risk", "price", "sign", "journal", "sign_sdk")


def latency_section(d: dict) -> list[str]:
    out = ["## Latency (ms): `python -m bench.latency`", "", machine_line(d), ""]
    for model, m in d.get("models", {}).items():
        lags = m.get("feeds", {})
        out += [f"**{model.replace('_', ' ')} feed** (RTDS {lags.get('rtds_lag_ms')}, Data API "
                f"{lags.get('data_api_lag_ms')} ms; copied {m.get('copied')}/{m.get('source_fills')}, "
                f"restarts {m.get('restarts') or 0})", "", HEAD,
                qrow("copy delay", m.get("copy_delay_ms")), qrow("detection lag", m.get("detection_lag_ms")),
                qrow("internal", m.get("internal_ms")), ""]
        seg = m.get("segments_ms") or {}
        if seg:
            out += ["Where the internal time goes (live, from StageTiming):", "", HEAD]
            out += [qrow(name, q) for name, q in seg.items()] + [""]
    stages = d.get("stages_ms") or {}
    if stages:
        out += ["Compute per stage, in one process with no actor hops (`bench.stages`):", "", HEAD]
        out += [qrow(s, stages[s]) for s in STAGE_ORDER if s in stages]
        out += ["", f"Sum of the p50s: {fmt(stages.get('sum_p50'))} ms.", ""]
    return out


def mempool_section(d: dict) -> list[str]:
    v, hops = d["verdict"], d.get("floor", {})
    out = ["## Mempool fast path on and off: `python -m bench.mempool`", "", machine_line(d), "",
           f"Third-party feed model ({d.get('feeds')}); settlement pending 0.4-0.9 s after the match, 7 % never "
           f"pending; single fills, ~2/s. Copy delay by the feed whose fill was copied:", "", HEAD]
    for half in ("on", "off"):
        for feed, f in d[half]["by_winning_feed"].items():
            out += [qrow(f"{half}: copied from {feed}, copy delay", f["copy_delay_ms"]),
                    qrow(f"{half}: copied from {feed}, its detection lag", f["detection_lag_ms"]),
                    qrow(f"{half}: copied from {feed}, internal", f["internal_ms"])]
    out += [qrow("on: mempool gain over RTDS (per fill)", d["on"]["mempool_gain_over_rtds_ms"]),
            qrow("floor: 4 bare Thespian hops, same run", hops.get("four_hops_ms")), "",
            f"Copy delay over the winning feed's lag, median per fill: on (mempool) "
            f"{fmt(v['on_mempool_median_excess_ms'])} ms, off (RTDS) {fmt(v['off_rtds_median_excess_ms'])} ms; "
            f"difference of the medians {fmt(v['on_difference_of_medians_ms'])} / "
            f"{fmt(v['off_difference_of_medians_ms'])} ms; target {v['target_ms']} ms.", ""]
    seg = d["on"].get("segments_ms") or {}
    if seg:
        out += ["Where the internal time goes, mempool on (live, from StageTiming):", "", HEAD]
        out += [qrow(name, q) for name, q in seg.items()] + [""]
    return out


def _p(q: dict | None) -> str:
    q = q or {}
    return " / ".join(fmt(q.get(k)) for k in ("p50", "p95", "p99"))


def soak_trend(soak: dict) -> str:
    """The long-run part of the soak sentence: growth of the actors that live all along."""
    t = soak.get("memory_trend") or {}
    if t.get("fixed_actors_rss_mb_per_h_second_half") is None:
        return ""
    rows = t["by_minute"]
    settled = next((r for r in rows if r["min"] >= 5), rows[-1])  # the first markets' coalescers are up
    return (f" (the actors that live all along, over the second half: RSS "
            f"{t['fixed_actors_rss_mb_per_h_second_half']:+} MB/h, USS {t['fixed_actors_uss_mb_per_h_second_half']:+} MB/h; "
            f"open files {settled['fds']} at minute {settled['min']:g}, {rows[-1]['fds']} at the end)")


def soak_minutes(soak: dict) -> list[str]:
    """The soak's memory, open files and coalescers, a row a minute."""
    rows = (soak.get("memory_trend") or {}).get("by_minute") or []
    if not rows:
        return []
    return ["| minute | summed PSS MB | summed USS MB | open files | coalescers |", "|---:|---:|---:|---:|---:|",
            *(f"| {r['min']:g} | {r.get('pss_mb', '')} | {r['uss_mb']} | {r['fds']} | {r['coalescers']} |" for r in rows), ""]


def floor_section(d: dict) -> list[str]:
    """bench.floor: four hops through bare actors per transport, each run of the command."""
    out = ["## Messaging floor (ms): `python -m bench.floor`", "", machine_line(d), "",
           f"Four hops through five bare actors per transport, same run; paced {d.get('rate_per_s'):g}/s, and bursts "
           f"of {d['settings']['burst_size']} messages emitted at once. Target: the lane's paced p50 <= "
           f"{d['target']['lane_four_hops_p50_ms']} ms (met: {d['target']['met']}).", ""]
    for i, run in enumerate(d.get("runs", []), 1):
        out += [f"Run {i} (load average at its end {run.get('load_avg_at_end')}):", "",
                "| transport | paced p50 | p95 | p99 | one hop p50 | burst: each p50 | p99 | last of 16 p50 | p99 "
                "| delivered | duplicates | out of order |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for kind, t in run["transports"].items():
            pq, b = t["paced"]["four_hops_ms"], t["burst"]
            out.append(f"| {kind} | {fmt(pq['p50'])} | {fmt(pq['p95'])} | {fmt(pq['p99'])} | "
                       f"{fmt(t['paced']['hop_ms']['p50'])} | {fmt(b['per_message_ms']['p50'])} | "
                       f"{fmt(b['per_message_ms']['p99'])} | {fmt(b['last_of_burst_ms']['p50'])} | "
                       f"{fmt(b['last_of_burst_ms']['p99'])} | {t['paced']['delivered'] + b['delivered']} / "
                       f"{t['paced']['sent'] + b['sent']} | {t['duplicates']} | {t['out_of_order']} |")
        out.append("")
    wake = d.get("wake") or {}
    if wake:
        out += ["What a hop costs outside the transport (`bench/floor_wake.py`):", "", HEAD,
                qrow("byte written -> Thespian actor's receiveMessage (us)", wake.get("thespian_watch_us")),
                qrow("byte written -> plain process out of select() (us)", wake.get("plain_select_us")),
                qrow("four hops through plain processes, no Thespian (ms)", wake.get("raw_chain_four_hops_ms")), ""]
    codec = d.get("codec_us") or {}
    if codec:
        out += ["Serialisation per hop (us, p50; `bench/floor_codec.py`):", "",
                "| message | pickle bytes | dumps | loads | msgspec bytes | encode | decode |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for name, c in codec.items():
            if name == "cold_us":
                continue
            out.append(f"| {name} | {c['pickle_bytes']} | {fmt(c['pickle_dumps_us'])} | {fmt(c['pickle_loads_us'])} | "
                       f"{c['msgspec_bytes']} | {fmt(c['msgspec_encode_us'])} | {fmt(c['msgspec_decode_us'])} |")
        cold = codec.get("cold_us")
        if cold:
            out += ["", f"Cold (once after each {cold['sleep_ms']} ms sleep, {cold['message']}): pickle "
                        f"{fmt(cold['pickle_dumps'])} + {fmt(cold['pickle_loads'])} us, msgspec "
                        f"{fmt(cold['msgspec_encode'])} + {fmt(cold['msgspec_decode'])} us."]
        out.append("")
    return out


def _copied(model: dict) -> str:
    refused = model.get("refused_by_risk") or {}
    why = ", ".join(f"{n} {reason}" for reason, n in sorted(refused.items()))
    return f"{model.get('copied')} / {model.get('source_fills')}" + (f" (risk refused {why})" if why else "")


def readme_block() -> str:
    """The README's summary: one table and a few lines, every figure from the JSON files."""
    lat, mp = load("latency") or {}, load("mempool") or {}
    models = lat.get("models", {})
    tp, fast = models.get("third_party", {}), models.get("fast", {})
    rows = ["| measure (ms: p50 / p95 / p99) | third-party feed (RTDS ~1.9 s) | fast feed (RTDS ~100 ms) |",
            "|---|---:|---:|",
            f"| detection lag (source fill → we see it) | {_p(tp.get('detection_lag_ms'))} | {_p(fast.get('detection_lag_ms'))} |",
            f"| internal (fill received → order at the venue)¹ | {_p(tp.get('internal_pipeline_ms'))} | "
            f"{_p(fast.get('internal_pipeline_ms'))} |",
            f"| copy delay (source fill → order at the venue) | {_p(tp.get('copy_delay_ms'))} | {_p(fast.get('copy_delay_ms'))} |",
            f"| copied / source fills | {_copied(tp)} | {_copied(fast)} |"]
    bases = [load("baseline"), load("baseline_fast")]
    if all(bases):
        cells = [f"{fmt(b['paired_copy_delay_ms']['poll_baseline']['p50'])} (polycopy "
                 f"{fmt(b['paired_copy_delay_ms']['polycopy']['p50'])}, {b['ratio']['p50']}× faster)" for b in bases]
        rows.append(f"| 1 s Data-API polling copier, same run: copy delay p50 | {cells[0]} | {cells[1]} |")
    out = rows + ["", "¹ Without the identical repeats inside one transaction first seen on RTDS: by policy they wait "
                      "for the Data API backstop to list them too (`policy/dedupe.py`), which the copy delay includes.",
                  ""] + table_runs.readme_lines()
    if mp:
        on, off = mp["on"]["by_winning_feed"].get("mempool", {}), mp["off"]["by_winning_feed"].get("rtds", {})
        out.append(f"Mempool fast path (`mempool.json`, third-party model, ~2 single fills/s): copy delay p50 "
                   f"{fmt(mp['on']['copy_delay_ms']['p50'])} ms with it on (copies by feed: "
                   f"{', '.join(f'{k} {v}' for k, v in sorted(mp['on']['winning_feed'].items()))}), "
                   f"{fmt(mp['off']['copy_delay_ms']['p50'])} ms with it off; the mempool sees a fill "
                   f"{fmt(mp['on']['mempool_gain_over_rtds_ms']['p50'])} ms before RTDS at p50. Internal p50: "
                   f"{fmt((on.get('internal_ms') or {}).get('p50'))} ms (mempool), "
                   f"{fmt((off.get('internal_ms') or {}).get('p50'))} ms (RTDS), against "
                   f"{fmt(mp['floor']['four_hops_ms']['p50'])} ms for the four actor hops alone (bare Thespian, same run).")
        out.append("")
    burst, soak = load("burst"), load("soak")
    if burst:
        out.append(f"Burst (200 source fills/s over 20 markets for 60 s, `burst.json`): at most "
                   f"{burst['max_orders_per_burst']} orders per market per burst; {burst.get('detected'):,} fills "
                   f"through intake, {burst.get('orders_posted'):,} orders; internal p50 / p99 of leading orders "
                   f"{fmt(burst['internal_ms']['p50'])} / {fmt(burst['internal_ms']['p99'])} ms.")
    if soak:
        out.append(f"Soak (`soak.json`, {soak.get('minutes'):g} min, RTDS drops and stalls, 429s, dropped POST answers, "
                   f"a new market every minute): {soak['copied']} of {soak['eligible']} eligible fills copied, "
                   f"{soak['duplicates']} duplicates, {soak['restarts']} restarts, memory {soak['rss_growth_mb']:+} MB"
                   f"{soak_trend(soak)}.")
    m = lat.get("machine", {})
    out += ["", f"Machine: {m.get('cores')} cores, {m.get('cpu_model')}, Python {m.get('python')}; latency run "
                f"{m.get('date')}. Full tables, per-stage breakdown and profiles: `bench/results/TABLE.md`, "
                "`bench/README.md`."]
    return "\n".join(out) + "\n"


def main() -> int:
    out = ["# polycopy benchmarks", "", "Generated by `python -m bench.table` from `bench/results/*.json`.", ""]
    lat = load("latency")
    if lat:
        out += latency_section(lat)
    mp = load("mempool")
    if mp:
        out += mempool_section(mp)
    fl = load("floor")
    if fl and fl.get("runs"):
        out += floor_section(fl)
    out += table_runs.sections()
    for base in filter(None, (load("baseline"), load("baseline_fast"))):
        c = base["paired_copy_delay_ms"]
        cmd = "python -m bench.baseline" + ("" if base.get("model") == "third_party" else f" --model {base.get('model')}")
        out += [f"## Against a Data-API-polling copier: `{cmd}`", "", machine_line(base), "",
                f"Same run, same {base.get('paired_fills')} source fills copied by both; "
                f"feed model {base.get('model')}; poll every {base.get('poll_interval_s')} s.", "", HEAD,
                qrow("polycopy copy delay", c["polycopy"]), qrow("polling copier copy delay", c["poll_baseline"]), "",
                f"Ratio (polling / polycopy): p50 {base['ratio'].get('p50')}x, p95 {base['ratio'].get('p95')}x.", ""]
    burst = load("burst")
    if burst:
        out += ["## Burst: `python -m bench.burst` (200 fills/s, 20 markets, 60 s)", "", machine_line(burst), "",
                f"- orders per burst (max): {burst['max_orders_per_burst']}; histogram {burst.get('orders_per_burst_hist')}",
                f"- orders posted: {burst.get('orders_posted')} for {burst.get('detected')} detected fills; "
                f"restarts {burst.get('restarts') or 0}",
                f"- max fills in flight per stage: {burst['max_queue_depth']}", "", HEAD,
                qrow("internal (leading orders)", burst["internal_ms"]),
                qrow("detection lag", burst.get("detection_lag_ms")), "",
                "| process | CPU % mean | CPU % max | RSS MB max |", "|---|---:|---:|---:|"]
        cpu = burst.get("cpu_pct", {})
        for name, rss in sorted(burst["rss_mb"].items()):
            if name.startswith("coalescer:"):
                continue
            c = cpu.get(name, {})
            out.append(f"| {name} | {fmt(c.get('mean'))} | {fmt(c.get('max'))} | {fmt(rss)} |")
        co = [n for n in burst["rss_mb"] if n.startswith("coalescer:")]
        if co:
            out.append(f"| coalescer (x{len(co)}, max) | {fmt(max(cpu[n]['mean'] for n in co))} | "
                       f"{fmt(max(cpu[n]['max'] for n in co))} | {fmt(max(burst['rss_mb'][n] for n in co))} |")
        out.append("")
    patched = [p.stem for p in sorted(RESULTS.glob("burst_*.json")) if (load(p.stem) or {}).get("patch")]
    if burst and patched:
        out += ["Experiments (`python -m bench.burst --patch NAME`, bench/patches/sitecustomize.py):", "",
                "| run | fills through intake | orders posted | internal p50 | internal p99 | max watcher->intake |",
                "|---|---:|---:|---:|---:|---:|"]
        for name in ["burst"] + patched:
            b = load(name)
            out.append(f"| {b.get('patch') or 'as shipped'} ({b['machine']['date'][11:16]} UTC) | {b.get('detected')} | "
                       f"{b.get('orders_posted')} | {fmt(b['internal_ms']['p50'])} | {fmt(b['internal_ms']['p99'])} | "
                       f"{b['max_queue_depth'].get('watcher_to_intake')} |")
        out.append("")
    for name, title in (("profile", "latency scenario, fill by fill"), ("profile_burst", "burst scenario, intent_net")):
        prof = load(name)
        if not prof:
            continue
        out += [f"## Profile ({title}): `python -m bench.{'profile' if name == 'profile' else 'profile --scenario burst --copy-mode intent_net'}`",
                "", "Share of each actor's busy samples (py-spy):", "",
                "| actor | CPU % | Thespian transport, outside handlers | Thespian sends | sqlite | logging | own handlers (top) |",
                "|---|---:|---:|---:|---:|---:|---|"]
        for actor, a in prof["actors"].items():
            areas = a.get("areas_pct_of_busy", {})
            handlers = ", ".join(f"{re.sub(r'^handler receive(Msg|Batch)_', '', k)} {v}" for k, v in areas.items()
                                 if k.startswith("handler "))[:80]
            cpu = round(100 * a["samples"] / (250 * prof["seconds"]), 1)
            out.append(f"| {actor} | {cpu} | {areas.get('outside handlers (transport loop)', 0)} | "
                       f"{areas.get('thespian_send', 0)} | {areas.get('sqlite', 0)} | "
                       f"{round(areas.get('logging', 0) + areas.get('log_sinks', 0), 1)} | {handlers} |")
        out.append("")
    soak = load("soak")
    if soak:
        out += [f"## Soak: `python -m bench.soak --minutes {soak.get('minutes')}`", "", machine_line(soak), "",
                "| copied / eligible | duplicates | restarts | memory growth MB (summed USS) |", "|---:|---:|---:|---:|",
                f"| {soak['copied']} / {soak['eligible']} | {soak['duplicates']} | {soak['restarts']} | "
                f"{soak['rss_growth_mb']} |", "", *soak_minutes(soak),
                f"Faults: {len(soak.get('faults', []))} ({', '.join(sorted({f.split(' ', 1)[1] for f in soak.get('faults', [])}))}); "
                f"market roll-over every {soak.get('roll_s')} s; restarts by actor {soak.get('restarts_by_actor')}.", ""]
    (RESULTS / "TABLE.md").write_text("\n".join(out) + "\n")
    print(f"wrote {RESULTS / 'TABLE.md'}")
    text = README.read_text()
    if MARKERS.search(text):
        README.write_text(MARKERS.sub(lambda m: m.group(1) + readme_block() + m.group(2), text))
        print(f"updated the benchmark summary in {README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
