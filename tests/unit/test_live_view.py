"""The live view renders the telemetry actor's snapshot file (headless, rich Console(record=True)),
and its keys send the kill switch messages run.py sends."""
from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from polycopy.messages import Alert, FeedHealth, KillSwitchChanged, OrderOutcome, RiskDecision
from polycopy.ops import live_view
from polycopy.ops.keys import Controls
from polycopy.ops.metrics import snapshot_path
from tests.actors.test_telemetry import copy, start, stop
from tests.unit.run_db import make_run_db
from tests.unit.test_names import market


def screen(renderable) -> str:
    c = Console(record=True, width=160, color_system=None)
    c.print(renderable)
    return c.export_text()


def written_snapshot(tmp_path, monkeypatch, with_run=True):
    """A real snapshot file, written by the telemetry actor from synthetic messages and a run's database."""
    h = start(tmp_path, monkeypatch, execution={"mode": "paper"})
    if with_run:
        make_run_db(h.actor.config.store.path)
    h.deliver(market(slug="btc-updown-15m-1765071000", tokens=("11" * 20, "22" * 20)))  # the catalog's Market
    copy(h, key="0xabc|7132|BUY|0.52|10|0", internal_ms=4.0)
    h.deliver(FeedHealth(feed="rtds", connected=True, silence_s=0.3, reconnects=1))
    h.deliver(FeedHealth(feed="backstop", connected=False, silence_s=9.0, circuit_open=True))
    h.deliver(Alert(condition="heartbeat", text="order heartbeats failing"))
    h.deliver(RiskDecision(intent_id="i901", decision="rejected", reason="cap_daily", source_size=Decimal(3)))
    h.deliver(OrderOutcome(intent_id="i6", order_id="", status="not_sent", filled_size=Decimal(0),
                           filled_notional_usd=Decimal(0), reason="beyond_slippage", token_id="11" * 20, side="BUY"))
    h.deliver(KillSwitchChanged(tripped=True, reason="test"))
    h.fire_wakeups(lambda p: p == "telemetry-tick")
    stop(h)
    return snapshot_path(h.actor.config)


def test_renders_source_beside_ours_the_copies_and_what_is_wrong(tmp_path, monkeypatch):
    path = written_snapshot(tmp_path, monkeypatch)
    text = screen(live_view.render(live_view.load_snapshot(path)))
    assert "polycopy paper" in text and "TRIPPED" in text and "entries open" in text
    assert "internal" in text and "4.0" in text  # p50 of the one copy
    assert "rtds" in text and "backstop" in text and "OPEN" in text
    assert "alerts firing:" in text and "heartbeat: order heartbeats failing" in text
    assert "BTC Up · 8:30–8:45 PM ET" in text and "BTC Down · 8:30–8:45 PM ET" in text  # names, not token ids
    assert "11" * 20 not in text
    up = next(line for line in text.splitlines() if line.startswith(" BTC Up"))
    # the source's shares (24 fills of 10, 2 of 3) beside ours (21 orders sent, 4 of them partial at 6)
    assert up.split()[6:9] == ["246.00", "127.90", "194.00"]
    assert re.search(r"executor:beyond_slippage +1 ", text) and re.search(r"risk:cap_daily +1 ", text)  # this run's
    assert "copy fidelity" in text
    assert "not_sent beyond_slippage" in text and "filled " in text and "SELL 5.00 @ 0.400" in text
    assert "matched" not in text  # a fill's venue status is no news
    assert "(is the bot running?)" not in text


def test_pnl_and_balance_show_when_the_snapshot_has_them(tmp_path, monkeypatch):
    snap = live_view.load_snapshot(written_snapshot(tmp_path, monkeypatch))
    assert "PnL" not in screen(live_view.render(snap)) and "balance" not in screen(live_view.render(snap))
    snap.update(balance_usd="812.50", pnl_by_token={"11" * 20: "-3.25"}, entries_paused="region_close_only")
    text = screen(live_view.render(snap))
    assert "balance 812.50 USD" in text and "PnL USD" in text and "-3.25" in text
    assert "entries PAUSED (region_close_only)" in text


def test_a_stale_snapshot_says_so(tmp_path, monkeypatch):
    snap = live_view.load_snapshot(written_snapshot(tmp_path, monkeypatch, with_run=False))
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


def test_k_and_r_need_a_y_and_send_what_run_py_sends(tmp_path, monkeypatch):
    sent = []
    monkeypatch.setattr("polycopy.runner.set_kill_switch",
                        lambda cfg, tripped, reason: sent.append((Path(cfg.store.path), tripped, reason)) or "done")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"store:\n  path: {tmp_path / 'polycopy.sqlite'}\n")
    c = Controls(cfg)
    assert c.key("k") and "Trip the kill switch" in c.message.plain
    assert c.key("n") and c.message.plain == "cancelled" and sent == []
    assert c.key("k") and c.key("y")
    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent == [(tmp_path / "polycopy.sqlite", True, "live view: operator")]
    assert c.key("r") and "Reset the kill switch" in c.message.plain and c.key("y")
    while len(sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent[1][1:] == (False, "live view: operator reset")
    assert c.key("x") and not c.key("q")  # other keys do nothing; q quits


@given(st.one_of(st.none(), st.text(max_size=40), st.decimals(allow_nan=True, allow_infinity=True).map(str)))
def test_an_amount_from_the_snapshot_prints_short_whatever_it_is(value):
    out = live_view.cents(value)
    assert out == "-" or re.fullmatch(r"-?[\d,]+\.\d\d", out)
    assert len(out) <= 25


def test_amounts_print_to_the_cent():
    assert [live_view.cents(v) for v in ("0.000000", "1234.5", "-9.75", "1e999999", None)] == \
        ["0.00", "1,234.50", "-9.75", "-", "-"]
