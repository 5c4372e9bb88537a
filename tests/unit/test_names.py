"""Market names for people (ops/names.py) and the human console line (ops/console.py)."""
from __future__ import annotations

import json
import sys
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loguru import logger

from polycopy.messages import Market
from polycopy.ops.console import event, shorten_ids
from polycopy.ops.logs import setup_logging, stdout_is_json
from polycopy.ops.names import MarketBook, market_name, window

UP, DOWN = "1" * 77, "2" * 77


def market(slug="btc-updown-15m-1765071000", title="Bitcoin Up or Down - December 6, 8:30PM-8:45PM ET",
           outcomes=("Up", "Down"), cid="0xc1", tokens=(UP, DOWN), end_ts=1765071900) -> Market:
    return Market(condition_id=cid, token_ids=tokens, outcomes=outcomes, end_ts=end_ts, tick_size=Decimal("0.01"),
                  min_order_size=Decimal(5), neg_risk=False, slug=slug, title=title)


def test_a_15_minute_market_is_named_by_asset_outcome_and_window_in_new_york_time():
    assert market_name(market(), UP) == "BTC Up · 8:30–8:45 PM ET"
    assert market_name(market(), DOWN, day=True) == "BTC Down · Dec 6 8:30–8:45 PM ET"
    # from a fill's slug and outcome alone, where no Market is at hand
    assert market_name(None, "9", slug="eth-updown-15m-1765071000", outcome="Down") == "ETH Down · 8:30–8:45 PM ET"


def test_windows_across_noon_and_midnight_name_both_halves():
    noon = 1765040400 - 900  # 11:45 AM ET
    assert window(noon, noon + 900) == "11:45 AM–12:00 PM ET"
    assert window(1765083600 - 900, 1765083600) == "11:45 PM–12:00 AM ET"


def test_other_markets_use_the_title_and_outcome_shortened():
    m = market(slug="fed-cut-december", title="Will the Fed cut rates in December 2026 by at least fifty basis points?",
               outcomes=("Yes", "No"))
    name = market_name(m, UP)
    assert name.startswith("Will the Fed cut rates") and name.endswith("… · Yes") and len(name) < 60
    assert market_name(m, DOWN, day=True).endswith("· No · ends Dec 6 8:45 PM ET")


def test_an_unknown_token_is_shortened_not_printed_whole():
    assert market_name(None, UP) == "token 1111…1111"
    assert market_name(None, "") == "-"


def test_the_market_book_names_known_tokens_and_forgets_the_oldest():
    book = MarketBook(max_markets=2)
    for i in range(3):
        book.add(market(slug=f"sol-updown-15m-{1765071000 + i * 900}", cid=f"0x{i}", tokens=(f"u{i}", f"d{i}")))
    assert book.get("u0") is None and book.name("u0") == "token u0"
    assert book.name("d2") == "SOL Down · 9:00–9:15 PM ET"
    assert len(book.by_token) == 4


@given(slug=st.text(max_size=80), title=st.text(max_size=300), outcome=st.text(max_size=40),
       end=st.integers(min_value=-10**12, max_value=10**12))
def test_any_market_facts_give_a_bounded_name(slug, title, outcome, end):
    m = market(slug=slug, title=title, outcomes=(outcome, "x"), end_ts=end)
    try:
        name = market_name(m, UP, day=True)
    except (OverflowError, ValueError, OSError):  # an end outside what a calendar can show
        assert abs(end) > 10**10
        return
    assert isinstance(name, str) and len(name) < 48 + len(outcome) + 40


def test_long_ids_are_shortened_for_people():
    key = "0x" + "ab" * 32 + "|" + UP + "|BUY"
    assert shorten_ids(f"repeat {key} confirmed") == "repeat 0xabab…abab|1111…1111|BUY confirmed"


@pytest.fixture
def restore_loguru():
    yield
    logger.remove()
    logger.configure(patcher=None, extra={})
    logger.add(sys.stderr)


def test_the_console_prints_one_human_line_and_the_file_keeps_json(tmp_path, capfd, restore_loguru):
    log = tmp_path / "polycopy.log"
    setup_logging(level="INFO", log_path=log, json_stdout=False, secret_values=["0x" + "5e" * 32], color=True)
    fields = event("order", market=market(), token_id=UP, side="BUY", size=Decimal("12.5"), price=Decimal("0.51"),
                   outcome="filled", reason="matched")
    logger.bind(actor="executor", **fields).info("intent i1 -> filled 12.5 (matched)")
    logger.bind(actor="telemetry", trace=True).info("copy stages watcher=1.2")
    logger.bind(actor="executor").warning("signing key {} refused", "0x" + "5e" * 32)
    out = capfd.readouterr().out.splitlines()
    assert len(out) == 2  # the trace line is in the file only
    assert "order" in out[0] and "BTC Up · 8:30–8:45 PM ET" in out[0] and "BUY" in out[0]
    assert "12.50 @ 0.510" in out[0] and "\x1b[32mfilled" in out[0] and "matched" in out[0] and UP not in out[0]
    assert "\x1b[33mWARNING executor signing key" in out[1] and "[REDACTED]" in out[1]  # yellow; secrets scrubbed
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 3
    assert lines[0]["token_id"] == UP and lines[0]["market"] == "BTC Up · 8:30–8:45 PM ET"
    assert lines[0]["stage"] == "order" and lines[0]["outcome"] == "filled" and lines[1]["trace"] is True


def test_stdout_format_follows_the_flag_else_the_terminal(tmp_path, monkeypatch):
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    with open(tmp_path / "pipe", "w") as f:
        assert stdout_is_json("auto", f.fileno())
        assert not stdout_is_json("human", f.fileno())
    assert stdout_is_json("json", 1)
    import os
    import pty

    leader, follower = pty.openpty()
    try:
        assert not stdout_is_json("auto", follower)  # a terminal: human
        monkeypatch.setenv("JOURNAL_STREAM", "8:1234")  # systemd's journal: JSON even on a tty
        assert stdout_is_json("auto", follower)
    finally:
        os.close(leader)
        os.close(follower)
