"""The live view renders the telemetry actor's snapshot file (headless, rich Console(record=True))."""
from __future__ import annotations

import time

from rich.console import Console

from polycopy.ops import live_view
from polycopy.messages import Alert, FeedHealth, KillSwitchChanged
from polycopy.ops.metrics import snapshot_path
from tests.actors.test_telemetry import copy, start, stop


def screen(renderable) -> str:
    c = Console(record=True, width=140, color_system=None)
    c.print(renderable)
    return c.export_text()


def written_snapshot(tmp_path, monkeypatch):
    """A real snapshot file, written by the telemetry actor from synthetic messages."""
    h = start(tmp_path, monkeypatch)
    copy(h, key="0xabc|7132|BUY|0.52|10|0", internal_ms=4.0)
    h.deliver(FeedHealth(feed="rtds", connected=True, silence_s=0.3, reconnects=1))
    h.deliver(FeedHealth(feed="backstop", connected=False, silence_s=9.0, circuit_open=True))
    h.deliver(Alert(condition="heartbeat", text="order heartbeats failing"))
    h.deliver(KillSwitchChanged(tripped=True, reason="test"))
    h.fire_wakeups(lambda p: p == "telemetry-tick")
    stop(h)
    return snapshot_path(h.actor.config)


def test_renders_the_snapshot_the_actor_wrote(tmp_path, monkeypatch):
    path = written_snapshot(tmp_path, monkeypatch)
    text = screen(live_view.render(live_view.load_snapshot(path)))
    assert "polycopy dry_run" in text and "TRIPPED" in text
    assert "internal" in text and "4.0" in text  # p50 of the one copy
    assert "rtds" in text and "backstop" in text and "OPEN" in text
    assert "FIRING heartbeat: order heartbeats failing" in text
    assert "0xabc|7132|BUY|0.52|10|0" in text
    assert "(is the bot running?)" not in text


def test_a_stale_snapshot_says_so(tmp_path, monkeypatch):
    snap = live_view.load_snapshot(written_snapshot(tmp_path, monkeypatch))
    text = screen(live_view.render(snap, now=snap["t"] + 60))
    assert "snapshot 60 s old" in text and "(is the bot running?)" in text


def test_no_snapshot_yet(tmp_path):
    assert live_view.load_snapshot(tmp_path / "missing.json") is None
    (tmp_path / "half.json").write_text("{\"t\": 1")
    assert live_view.load_snapshot(tmp_path / "half.json") is None
    assert "no telemetry snapshot yet" in screen(live_view.render(None))


def test_main_once_prints_a_frame(tmp_path, monkeypatch, capsys):
    path = written_snapshot(tmp_path, monkeypatch)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"store:\n  path: {path.parent / 'polycopy.sqlite'}\n")
    assert live_view.main(["--config", str(cfg), "--once"]) == 0
    assert "recent copies" in capsys.readouterr().out
    (tmp_path / "bad.yaml").write_text("store: {pathh: x}\n")
    assert live_view.main(["--config", str(tmp_path / "bad.yaml"), "--once"]) == 2
