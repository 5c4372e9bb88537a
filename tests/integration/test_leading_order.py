"""Issue 16, done-when: `copy.leading_order` against polysim fills, the whole system (run.py
--replay of a recording written here, both modes side by side through the policy sweep).

On the Up token a BUY and a SELL of the same size 100 ms apart; on the Down token a burst of six
BUYs within 100 ms (after a warm-up fill per token, so that each coalescer process exists and the
window is measured from a fill that arrived in time). coalesce_ms is the shipped 300.
- after_window: no order for the pair (netted out before sending), one net order for the burst;
- immediate (unchanged): the pair costs a leading BUY and a trailing SELL, the burst a leading
  order and a trailing one.
"""
from __future__ import annotations

import json
import sqlite3

import pytest
import yaml

from polycopy.ops import sweep
from tests.conftest import ROOT
from tests.integration.test_sweep import DOWN, UP, write_recording

pytestmark = pytest.mark.integration
FEED = [(0.0, UP, "BUY", "0.50", "10"), (0.1, DOWN, "BUY", "0.50", "10"),
        (4.0, UP, "BUY", "0.50", "12"), (4.1, UP, "SELL", "0.50", "12"),
        *[(7.0 + 0.02 * i, DOWN, "BUY", "0.50", str(5 + i)) for i in range(6)]]


def orders_by_token(db: str) -> dict:
    """token -> [(side, number of fills covered)] of the orders sent after each token's warm-up fill."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT d.token_id, d.side, d.fill_keys FROM decisions d JOIN exec_orders o "
                            "ON o.intent_id = d.intent_id WHERE o.posts > 0 ORDER BY o.signed_ts").fetchall()
    finally:
        conn.close()
    out = {UP: [], DOWN: []}
    for token, side, keys in rows:
        out[token].append((side, len(json.loads(keys))))
    return {t: v[1:] for t, v in out.items()}  # the first order of each token is its warm-up fill's


def test_after_window_nets_before_sending_and_immediate_is_unchanged(tmp_path):
    record = tmp_path / "feed.jsonl"
    write_recording(record, FEED)
    spec = sweep.SweepFile.model_validate({"variants": [
        {"name": "immediate", "set": {"copy": {"leading_order": "immediate"}}},
        {"name": "after_window", "set": {"copy": {"leading_order": "after_window"}}}]})
    rows = {r["variant"]: r for r in sweep.run_sweep(spec, record, ROOT / "config.yaml", tmp_path / "out", jobs=2,
                                                      say=lambda s: None)}
    assert all("error" not in r for r in rows.values()), rows
    assert yaml.safe_load((tmp_path / "out" / "after_window" / "config.yaml").read_text())["copy"]["coalesce_ms"] == 300

    after = orders_by_token(rows["after_window"]["db"])
    assert after[UP] == []  # the pair netted to zero inside the window: no order, no spread
    assert after[DOWN] == [("BUY", 6)]  # one net order for the six fills
    assert rows["after_window"]["not_copied"] == {"coalescer:netted_out": 1}
    assert rows["after_window"]["first_fill_delay_ms"]["p50"] >= 300  # the window is the leading copy's price

    now = orders_by_token(rows["immediate"]["db"])
    assert now[UP] == [("BUY", 1), ("SELL", 1)]
    assert [n for _, n in now[DOWN]] in ([1, 5], [2, 4])  # leading at once (a fill or two), the rest trailing
