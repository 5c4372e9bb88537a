"""Operations end to end: run.py --sim with a scripted burst gives stage log lines joinable by
correlation id, /metrics with copy-delay counts, the CSVs, a webhook alert while RTDS is stalled
and its resolution, and no secret anywhere in what the run wrote."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict

import pytest
import requests
import yaml

from polycopy.runner import SIM_TEST_KEY
from tests.conftest import ROOT
from tests.integration.test_supervision import free_port, wait_for
from tests.unit.test_alerts import Receiver

pytestmark = pytest.mark.integration
API_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
PASSPHRASE = "9f1c2d3e4b5a69788796a5b4c3d2e1f0"
SECRETS = (SIM_TEST_KEY, SIM_TEST_KEY[2:], API_SECRET, PASSPHRASE)


def test_a_paper_run_is_observable_and_leaks_nothing(tmp_path):
    receiver = Receiver()
    metrics_port = free_port()
    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    raw["store"]["path"] = str(tmp_path / "state" / "polycopy.sqlite")
    raw["telemetry"]["log_path"] = str(tmp_path / "state" / "polycopy.log")
    raw["telemetry"]["metrics_port"] = metrics_port
    raw["telemetry"]["alerts"]["feed_silent_s"] = 3
    raw["actors"]["admin_port"] = free_port()
    raw["copy"]["copy_mode"] = "fill_by_fill"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYCOPY_")}
    env.update(POLYCOPY_PRIVATE_KEY=SIM_TEST_KEY, POLYCOPY_API_SECRET=API_SECRET, POLYCOPY_API_PASSPHRASE=PASSPHRASE,
               POLYCOPY_ALERT_URLS=receiver.url("hook"))
    out = open(tmp_path / "run.out", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", "config.yaml", "--sim"],
                            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    try:
        control = wait_for(lambda: _control_url(tmp_path / "run.out"), timeout_s=60, what="polysim's endpoints")
        metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        wait_for(lambda: _get(metrics), timeout_s=60, what="the metrics endpoint")
        for i, size in enumerate(("6", "7", "8", "9", "10")):  # a scripted burst on one outcome
            r = requests.post(control + "/fills", timeout=5, json={"market": "btc+1", "outcome": "Up", "side": "BUY",
                                                                 "price": "0.51", "size": size})
            assert r.status_code == 200, r.text
            time.sleep(0.3)
        count = wait_for(lambda: _copy_delay_count(_get(metrics)), timeout_s=30, what="copy-delay observations")
        assert count >= 1

        # RTDS stalls: an alert goes out, and a resolution once frames flow again.
        requests.post(control + "/faults", json={"kind": "rtds_stall", "for_s": 8}, timeout=5).raise_for_status()
        wait_for(lambda: any(_about_rtds(b) and not _resolved(b) for b in receiver.bodies), timeout_s=30,
                 what="the feed-silent alert")
        wait_for(lambda: any(_about_rtds(b) and _resolved(b) for b in receiver.bodies), timeout_s=60,
                 what="its resolution")
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
        out.close()
        receiver.close()
    assert rc == 0

    state = tmp_path / "state"
    trades_csv = state / "sim" / "target_trades.csv"
    assert trades_csv.exists() and len(trades_csv.read_text().splitlines()) >= 2
    assert (state / "sim" / "target_positions.csv").exists()

    # Stage log lines joinable by correlation id: one copy's stages come from several actors.
    by_corr = defaultdict(str)
    for line in (state / "polycopy.log").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("corr"):
            by_corr[rec["corr"]] += " " + rec["msg"]
    joined = [corr for corr, text in by_corr.items() if all(s in text for s in ("intake=", "risk=", "sent="))]
    assert joined, "no copy whose intake, risk and execution stage lines share a correlation id"

    # No secret in anything the run wrote: stdout/stderr, logs, state files, webhook bodies.
    written = [(tmp_path / "run.out").read_text(errors="replace"), json.dumps(receiver.bodies)]
    for path in state.rglob("*"):
        if path.is_file():
            written.append(path.read_bytes().decode("latin-1"))
    for secret in SECRETS:
        assert not any(secret in text for text in written), "a secret leaked"


def _control_url(path) -> str | None:
    m = re.search(r'"control": "(http://127\.0\.0\.1:\d+)"', path.read_text(errors="replace"))
    return m.group(1) if m else None


def _get(url) -> str | None:
    try:
        r = requests.get(url, timeout=2)
        return r.text if r.status_code == 200 else None
    except requests.RequestException:
        return None


def _copy_delay_count(text) -> float:
    m = re.search(r"^polycopy_copy_delay_seconds_count(?:\{[^}]*\})? ([0-9.e+]+)$", text or "", re.M)
    return float(m.group(1)) if m else 0.0


def _about_rtds(body) -> bool:
    return "rtds" in json.dumps(body).lower()


def _resolved(body) -> bool:
    return "resolved" in json.dumps(body).lower()
