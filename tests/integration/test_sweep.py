"""Issue 16, done-when: a policy sweep of a small recording with two variants prints the table,
and each variant's figures match the same variant replayed alone with `run.py --replay`.

The recording is written here (one 15-minute BTC market, the shipped source wallet): a warm-up
fill per token (the first fill of a token waits for its coalescer process to spawn), a burst of
five BUYs 400 ms apart whose last fill is two cents above the others (so the trailing order
meets a book past 120 bps but within two ticks: polysim's replay book starts at the newest
source price), then a BUY and a SELL of the same size 100 ms apart on the other outcome.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from polycopy.ops import sweep
from polycopy.ops.recording import Recorder
from polycopy.ops.replay_stats import figures
from tests.conftest import ROOT
from tests.integration.test_supervision import free_port, wait_for

pytestmark = pytest.mark.integration
WALLET = "0x1d0034134e339a309700ff2d34e99fa2d48b0313"
CID = "0x" + "ab" * 32
UP, DOWN = "1" * 20 + "7", "2" * 20 + "9"
# (seconds, token, side, price, size)
# Margins for a loaded machine: the burst's last fill 400 ms before its horizon ends, the pair 200 ms
# inside the 300 ms window, seconds between the phases.
FEED = [(0.0, UP, "BUY", "0.50", "10"), (0.2, DOWN, "BUY", "0.50", "10"),
        (4.0, UP, "BUY", "0.50", "8"), (4.4, UP, "BUY", "0.49", "9"), (4.8, UP, "BUY", "0.50", "7"),
        (5.2, UP, "BUY", "0.49", "6"), (5.6, UP, "BUY", "0.52", "10"),
        (8.0, DOWN, "BUY", "0.50", "12"), (8.1, DOWN, "SELL", "0.50", "12")]
SAME = ("source_fills", "source_shares", "fills_copied", "copied_shares", "size_copied_pct", "orders_sent",
        "price_gap_cents", "price_gap_bps", "notional_usd", "slippage_refused", "slippage_needed_cents",
        "decisions", "not_copied")


def write_recording(path: Path, feed=FEED) -> None:
    """A `run.py --record` file of the shipped source wallet's fills `feed` on one BTC 15-minute market."""
    rec = Recorder(path)
    t0_ms = int(time.time() * 1000)
    start = t0_ms // 1000 - 60  # the market opened a minute before the first fill; ends 14 minutes after it
    for i, (t, token, side, price, size) in enumerate(feed):
        payload = {"asset": token, "conditionId": CID, "proxyWallet": WALLET, "side": side, "price": price,
                   "size": size, "timestamp": t0_ms // 1000 + int(t), "slug": f"btc-updown-15m-{start}",
                   "outcome": "Up" if token == UP else "Down", "title": "Bitcoin Up or Down",
                   "transactionHash": "0x" + f"{i + 1:064x}"}
        rec.frame(json.dumps({"topic": "activity", "type": "trades", "timestamp": t0_ms + int(t * 1000),
                              "payload": payload}), recv_ms=t0_ms + int(t * 1000))


def replay_alone(config: Path, record: Path, where: Path) -> dict:
    """The variant's own config, replayed by run.py alone in another folder."""
    raw = yaml.safe_load(config.read_text())
    raw["store"]["path"] = str(where / "state" / "polycopy.sqlite")
    raw["telemetry"]["log_path"] = str(where / "state" / "polycopy.log")
    raw["actors"]["admin_port"] = free_port()
    where.mkdir(parents=True)
    (where / "config.yaml").write_text(yaml.safe_dump(raw))
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYCOPY_")}
    with open(where / "run.out", "w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(where / "config.yaml"),
                                 "--replay", str(record)], cwd=where, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for(lambda: sweep.FINISHED in (where / "run.out").read_text(), timeout_s=120, what="the replay")
            db = wait_for(lambda: next((where / "state" / "replay").glob("*/polycopy.sqlite"), None), 10, "its db")
            done = {"sig": None, "at": time.monotonic()}

            def quiet():
                sig = sweep._signature(db)
                if sig != done["sig"]:
                    done.update(sig=sig, at=time.monotonic())
                return sig and not any(sig[1:]) and time.monotonic() - done["at"] > 4

            wait_for(quiet, timeout_s=60, what="the replay to settle")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(40)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return figures(conn)
    finally:
        conn.close()


def test_a_sweep_of_two_variants_matches_each_replayed_alone(tmp_path, capsys):
    record = tmp_path / "feed.jsonl"
    write_recording(record)
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump({"config": str(ROOT / "config.yaml"), "variants": [
        {"name": "bps120", "set": {"execution": {"max_slippage_bps": 120, "max_slippage_ticks": 0}}},
        {"name": "ticks2-after", "set": {"execution": {"max_slippage_ticks": 2},
                                          "copy": {"leading_order": "after_window"}}},
    ]}))
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- sweep-table:start -->\nold\n<!-- sweep-table:end -->\nrest\n")
    out = tmp_path / "out"
    code = sweep.main(["--sweep", str(tmp_path / "sweep.yaml"), "--replay", str(record), "--out", str(out),
                       "--jobs", "2", "--readme", str(readme)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    rows = {r["variant"]: r for r in json.loads((out / "sweep.json").read_text())["variants"]}
    assert "[1/2] bps120: started" in printed and "[2/2] ticks2-after: done" in printed
    assert "| bps120 | " in printed and "| ticks2-after | " in printed and "old" not in readme.read_text()
    assert (out / "sweep.csv").read_text().count("\n") == 3 and "| bps120 |" in (out / "sweep.md").read_text()

    tight, loose = rows["bps120"], rows["ticks2-after"]
    assert tight["source_fills"] == loose["source_fills"] == len(FEED)
    # 120 bps of 0.50 is under a tick: the trailing BUY meets a book at 0.52 (needs 1.84 cents more), the
    # trailing SELL a bid at 0.49 (1 cent less); both refused, with what they needed
    assert tight["not_copied"] == {"executor:beyond_slippage": 2} and tight["slippage_needed_cents"] == 1.42
    assert (tight["orders_sent"], tight["fills_copied"]) == (4, 4)
    # two ticks copy the burst; after_window: the BUY and SELL of the same size 100 ms apart net to nothing
    assert loose["not_copied"] == {"coalescer:netted_out": 1} and loose["slippage_refused"] == 0
    assert (loose["orders_sent"], loose["fills_copied"]) == (4, 7)

    for name, row in rows.items():
        alone = replay_alone(out / name / "config.yaml", record, tmp_path / f"alone-{name}")
        assert {k: alone[k] for k in SAME} == {k: row[k] for k in SAME}, name
