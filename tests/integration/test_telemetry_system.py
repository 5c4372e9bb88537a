"""Telemetry on the real multiprocess base: in a forked actor process it serves /metrics, posts a
webhook alert for a stalled feed and its resolution, and writes correlation-id log lines to the
shared log file with every secret redacted (the whole output is grepped)."""
from __future__ import annotations

import json
import time

import pytest
import requests

from polycopy.actors.telemetry import Telemetry
from polycopy.messages import Alert, FeedHealth, Init, StageTiming
from tests.conftest import make_config
from tests.integration.inprocess import logged_system
from tests.integration.test_supervision import free_port, wait_for
from tests.unit.test_alerts import Receiver

pytestmark = pytest.mark.integration
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
API_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
PASSPHRASE = "9f1c2d3e4b5a69788796a5b4c3d2e1f0"
CORR = "0x77aa|7132|BUY|0.52|10|0"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_forked_telemetry_metrics_alerts_and_redacted_logs(tmp_path, monkeypatch, receiver, capfd):
    monkeypatch.chdir(tmp_path)
    for name, value in (("PRIVATE_KEY", KEY), ("API_KEY", "11111111-2222-3333-4444-555555555555"),
                        ("API_SECRET", API_SECRET), ("API_PASSPHRASE", PASSPHRASE),
                        ("ALERT_URLS", receiver.url("hook"))):
        monkeypatch.setenv(f"POLYCOPY_{name}", value)
    metrics_port = free_port()
    cfg = make_config(tmp_path, actors={"admin_port": free_port()},
                      telemetry={"metrics_port": metrics_port, "alerts": {"feed_silent_s": 30}})
    with logged_system(cfg, tmp_path / "state") as asys:
        tel = asys.createActor(Telemetry)
        asys.tell(tel, Init(config=cfg))
        recv = time.monotonic_ns() - 4_000_000
        src = int(time.time() * 1000) - 1500
        asys.tell(tel, StageTiming(key=CORR, stages=(("recv", recv), ("intake", recv + 100_000)), source_ts_ms=src))
        asys.tell(tel, StageTiming(key=CORR, stages=(("exec_in", recv + 1_000_000), ("exec_posted", recv + 4_000_000)),
                                   source_ts_ms=src))
        asys.tell(tel, FeedHealth(feed="rtds", connected=True, silence_s=45.0))
        asys.tell(tel, Alert(condition="leak_test", text=f"secret {API_SECRET} and {PASSPHRASE} and {KEY}"))
        bodies = receiver.wait(2)
        asys.tell(tel, FeedHealth(feed="rtds", connected=True, silence_s=0.1))
        bodies = receiver.wait(3)
        body = wait_for(lambda: (lambda t: t if "polycopy_copy_delay_seconds_count 1.0" in t else None)(
            requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text), what="metrics")
    titles = sorted(b["title"] for b in bodies)
    assert titles == ["polycopy ALERT: feed_silent:rtds", "polycopy ALERT: leak_test",
                      "polycopy RESOLVED: feed_silent:rtds"]
    assert 'polycopy_stage_seconds_count{stage="exec_posted"} 1.0' in body
    log_lines = [json.loads(x) for x in cfg.telemetry.log_path.read_text().splitlines()]
    corr = [x for x in log_lines if x.get("corr") == CORR and "stages_ms" in x]
    assert len(corr) == 2 and corr[1]["actor"] == "telemetry" and corr[1]["stages_ms"]["exec_posted"] == 4.0
    done = [x for x in log_lines if x.get("corr") == CORR and x.get("stage") == "copied"]  # the console's line
    assert len(done) == 1 and "internal 4.0 ms" in done[0]["detail"]
    out, err = capfd.readouterr()
    everything = out + err + cfg.telemetry.log_path.read_text() + json.dumps(bodies)
    everything += "".join(p.read_text(errors="replace") for p in (tmp_path / "state").glob("*") if p.is_file())
    for secret in (KEY, KEY[2:], API_SECRET, PASSPHRASE):
        assert secret not in everything
    assert "[REDACTED]" in json.dumps(bodies) and "[REDACTED]" in cfg.telemetry.log_path.read_text()
