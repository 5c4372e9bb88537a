"""bench.floor's pure parts: latencies joined per sequence number from each hop's arrivals, counts
of what was delivered, doubled or reordered, and its section of TABLE.md."""
from __future__ import annotations

import json

from bench import floor, table, table_fmt


def arrivals(seqs, start_ns, hop_ns):
    """Five hops' (seq, ns) lists for messages that each take hop_ns per hop."""
    return [[(s, start_ns[s] + i * hop_ns) for s in seqs] for i in range(floor.HOPS + 1)]


def test_stats_join_each_message_across_the_hops():
    start = {s: s * 5_000_000 for s in range(1, 21)}
    for s in range(11, 21):  # one burst of ten: all emitted at the same instant
        start[s] = 60_000_000
    rows = arrivals(range(1, 21), start, 250_000)
    for i in range(1, floor.HOPS + 1):  # the burst's messages reach each hop 10 us apart
        rows[i] = [(s, t + (s - 11) * 10_000 * i if s > 10 else t) for s, t in rows[i]]
    out = floor._stats("lane", rows, {"paced": list(range(1, 11)), "burst": [list(range(11, 21))]})
    assert out["paced"]["four_hops_ms"]["p50"] == 1.0 and out["paced"]["hop_ms"]["p50"] == 0.25
    assert out["paced"]["delivered"] == 10 and out["burst"]["delivered"] == 10
    assert out["burst"]["last_of_burst_ms"]["p50"] == 1.36 and out["burst"]["per_message_ms"]["n"] == 10
    assert out["duplicates"] == 0 and out["out_of_order"] == 0


def test_stats_count_losses_duplicates_and_reordering():
    rows = arrivals(range(1, 6), {s: s * 1000 for s in range(1, 6)}, 100)
    tail = rows[-1]
    rows[-1] = [tail[0], tail[2], tail[1], tail[2]]  # 4 and 5 lost, 3 twice, 2 after 3
    out = floor._stats("x", rows, {"paced": [1, 2, 3, 4, 5], "burst": []})
    assert out["paced"]["delivered"] == 3 and out["duplicates"] == 1 and out["out_of_order"] == 1
    assert out["burst"]["last_of_burst_ms"]["n"] == 0


def test_floor_section_in_the_table(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "RESULTS", tmp_path)
    monkeypatch.setattr(table_fmt, "RESULTS", tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("<!-- bench-table:start -->\n<!-- bench-table:end -->\n")
    monkeypatch.setattr(table, "README", readme)
    q = {"p50": 0.9, "p95": 2, "p99": 3, "max": 4, "n": 100}
    t = {"paced": {"four_hops_ms": q, "hop_ms": q, "sent": 100, "delivered": 100},
         "burst": {"per_message_ms": q, "last_of_burst_ms": q, "bursts": 2, "sent": 32, "delivered": 32},
         "duplicates": 0, "out_of_order": 0}
    (tmp_path / "floor.json").write_text(json.dumps({
        "four_hops_ms": q, "hop_ms": q, "rate_per_s": 200, "n": 100,
        "runs": [{"transports": {"lane": t, "thespian": t}, "load_avg_at_end": [0.5, 0.6, 0.7]}],
        "codec_us": {}, "wake": {"thespian_watch_us": q, "plain_select_us": q, "raw_chain_four_hops_ms": q},
        "target": {"lane_four_hops_p50_ms": 0.6, "lane_p50_per_run": [0.9], "met": False},
        "settings": {"burst_size": 16}, "machine": {}}))
    table.main()
    text = (tmp_path / "TABLE.md").read_text()
    assert "| lane | 0.90 | 2.00 | 3.00 | 0.90 | 0.90 | 3.00 | 0.90 | 3.00 | 132 / 132 | 0 | 0 |" in text
    assert "(met: False)" in text and "plain process out of select()" in text
