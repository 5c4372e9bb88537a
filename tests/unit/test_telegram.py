"""Telegram control, the pure part: updates parsed totally, answers written from the status dict,
and the token and chat ids read by the one secrets loader."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polycopy.config import load_secrets
from polycopy.errors import ConfigError
from polycopy.ops.telegram import (MAX_ANSWER, MAX_ARGS, Command, format_pnl, format_positions, format_status,
                                   parse_update, too_old)

NOW = int(time.time())


def update(text, chat_id=111, user=None, uid=7, date=NOW):
    msg = {"message_id": 1, "date": date, "chat": {"id": chat_id, "type": "private"}, "text": text}
    if user is not None:
        msg["from"] = user
    return {"update_id": uid, "message": msg}


def test_a_command_with_its_reason_and_sender():
    cmd = parse_update(update("/Kill  market looks broken", user={"id": 5, "username": "alice"}))
    assert cmd == Command(update_id=7, chat_id=111, user_id=5, username="alice", name="kill",
                          args="market looks broken", sent_ts=NOW)
    assert cmd.who() == "@alice in chat 111"
    assert parse_update(update("/status", user={"id": 5})).who() == "user 5 in chat 111"


def test_commands_for_another_bot_and_plain_text_are_not_commands():
    assert parse_update(update("/status@polycopy_bot"), bot_username="polycopy_bot").name == "status"
    assert parse_update(update("/status@other_bot"), bot_username="polycopy_bot") is None
    assert parse_update(update("hello /status")) is None
    assert parse_update(update("/")) is None
    assert parse_update(update("/ki!ll")) is None
    assert parse_update({"update_id": 3, "edited_message": update("/kill")["message"]}) is None


def test_hostile_fields_are_refused_or_cleaned():
    assert parse_update(update("/kill", chat_id=True)) is None  # a bool is not a chat id
    assert parse_update(update("/kill", chat_id="111")) is None
    assert parse_update({"update_id": "7", "message": update("/kill")["message"]}) is None
    cmd = parse_update(update("/kill " + "a\x00b\n" * 500, user={"id": "x", "username": ["no"]}))
    assert cmd.user_id == 0 and cmd.username == "" and len(cmd.args) <= MAX_ARGS
    assert cmd.args.isprintable()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                       max_size=4), max_leaves=10)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["update_id", "message", "chat", "from", "text", "date"]), json_values))
def test_parse_update_is_total(raw):
    cmd = parse_update(raw)
    assert cmd is None or isinstance(cmd, Command)
    msg = {k: v for k, v in raw.items() if k != "update_id"}
    cmd = parse_update({"update_id": 1, "message": msg})
    assert cmd is None or isinstance(cmd, Command)


def test_old_commands_are_not_obeyed():
    assert too_old(parse_update(update("/resume", date=NOW - 600)), now=NOW)
    assert not too_old(parse_update(update("/resume", date=NOW - 5)), now=NOW)


STATUS = {
    "mode": "paper", "pid": 4242, "uptime_s": 3725.2, "recent_failures": 1,
    "kill_switch": {"tripped": True, "reason": "3 child failures in 60 s (last: risk exited)"},
    "children": {"risk": {"pid": 1, "restarts": 2, "alive": True}, "rtds": {"pid": 2, "restarts": 0, "alive": True},
                 "executor": {"pid": 0, "restarts": 1, "alive": False}},
    "telemetry": {"counters": {"orders_filled": 12, "orders_rejected": 1, "risk_approved": 13, "risk_rejected": 4},
                  "copy_delay_ms": {"p50": 1925.0, "p95": 2326.0, "n": 13}, "internal_ms": {"p95": 8.6, "n": 13},
                  "feeds": {"rtds": {"connected": True, "silence_s": 0.4}, "backstop": {"connected": False,
                                                                                       "silence_s": 75.0,
                                                                                       "circuit_open": True}},
                  "alerts_firing": ["feed_silent:backstop"],
                  "positions": [{"token_id": "7132" * 19, "shares": "10", "cost_usd": "5.2"},
                                {"token_id": "1", "market": "BTC Up · 8:30–8:45 PM ET", "shares": "4",
                                 "cost_usd": "2"}]},
}


def test_status_answer_has_the_facts_of_run_py_status():
    text = format_status(STATUS)
    assert text.splitlines()[0] == "polycopy · paper · up 1h 02m · pid 4242"
    for fact in ("Kill switch: TRIPPED – 3 child failures in 60 s (last: risk exited)",
                 "New positions: not reported by this version",
                 "Actors: 2/3 alive, 3 restarts, 1 recent failures; down: executor",
                 "Orders: 12 filled, 1 rejected · risk: 13 approved, 4 rejected",
                 "Copy delay p50 1.93 s, p95 2.33 s (n=13) · internal p95 8.6 ms",
                 "Feeds: backstop DOWN 75.0 s (circuit open) · rtds up 0.4 s",
                 "Alerts firing: feed_silent:backstop"):
        assert fact in text
    paused = {"paused": True, "reason": "entries_paused", "operator_pause": "by phone", "venue_close_only": ""}
    assert "New positions: PAUSED – by phone" in format_status({**STATUS, "entries": paused})
    venue = {**paused, "reason": "region_close_only", "venue_close_only": "region_close_only"}
    assert "New positions: PAUSED – the venue allows closing trades only (region_close_only)" in format_status(
        {**STATUS, "entries": venue})
    assert "New positions: open" in format_status({**STATUS, "entries": {"paused": False, "reason": ""}})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["mode", "pid", "uptime_s", "kill_switch", "children", "telemetry",
                                        "recent_failures", "entries", "pnl"]), json_values))
def test_answers_never_fail_on_a_strange_status(status):
    for fmt in (format_status, format_pnl, format_positions):
        text = fmt(status)
        assert isinstance(text, str) and 0 < len(text) <= MAX_ANSWER


def test_positions_and_pnl_say_what_is_known():
    text = format_positions(STATUS)
    assert "2 open position(s)" in text and "token …71327132: 10 shares, cost 5.20 USD" in text
    assert "BTC Up · 8:30–8:45 PM ET: 4 shares, cost 2.00 USD" in text
    assert "in paper and dry-run modes only" in format_positions({"mode": "live", "telemetry": {}})
    assert format_pnl(STATUS) == ("PnL is not available: this version's status does not report it yet.\n"
                                  "Open positions: 2, cost 7.20 USD.")
    assert format_pnl({**STATUS, "pnl": {"realised_usd": "1.50"}}) == "PnL:\nrealised_usd: 1.50"


def test_secrets_loader_reads_the_token_and_the_allowed_chats():
    s = load_secrets(env={"POLYCOPY_TELEGRAM_TOKEN": "123:abcdefgh", "POLYCOPY_TELEGRAM_CHAT_IDS": "111, -100222 333"})
    assert s.telegram_token.get_secret_value() == "123:abcdefgh" and s.telegram_chat_ids == (111, -100222, 333)
    assert "123:abcdefgh" in s.values()  # redacted from every log line
    assert "abcdefgh" not in repr(s)
    assert load_secrets(env={}).telegram_token is None and load_secrets(env={}).telegram_chat_ids == ()
    with pytest.raises(ConfigError, match="TELEGRAM_CHAT_IDS"):
        load_secrets(env={"POLYCOPY_TELEGRAM_CHAT_IDS": "111,@alice"})
