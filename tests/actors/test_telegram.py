"""The Telegram actor alone, driven by messages: commands become the supervisor's messages, each
answer goes back to the chat that asked, strangers get nothing, and the supervisor driven the
same way really trips its kill switch."""
from __future__ import annotations

import time

import pytest
from loguru import logger
from thespian.actors import ActorAddress, WatchMessage

from polycopy.actors import telegram as tg
from polycopy.actors.watcher_io import ThreadBridge
from polycopy.messages import (EntriesChanged, KillSwitchChanged, PauseEntries, ResetKillSwitch, ResumeEntries,
                               StatusReply, StatusRequest, TripKillSwitch)
from polycopy.ops.telegram import Command
from polycopy.store import control, open_db
from tests.actors.harness import Harness
from tests.actors.test_supervisor import StubbedSupervisor
from tests.conftest import make_config

OWNER, STRANGER = 111, 999


class Replies:
    def __init__(self):
        self.sent: list[tuple[int, str]] = []

    def reply(self, chat_id: int, text: str) -> bool:
        self.sent.append((chat_id, text))
        return True


class OfflineTelegram(tg.TelegramControl):
    """The real actor with a bridge fed by the test and replies recorded: no thread, no network."""

    def _start(self) -> None:
        self.client = Replies()
        self.bridge = ThreadBridge("telegram-test")


@pytest.fixture
def h(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLYCOPY_TELEGRAM_TOKEN", "123:secret-token")
    monkeypatch.setenv("POLYCOPY_TELEGRAM_CHAT_IDS", str(OWNER))
    harness = Harness(OfflineTelegram, config=make_config(tmp_path))
    yield harness
    harness.actor.bridge.close()


@pytest.fixture
def logs():
    lines = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="INFO", format="{message}")
    yield lines
    logger.remove(sink)


def say(h, text, chat_id=OWNER, username="alice", age_s=0):
    name, _, args = text[1:].partition(" ")
    cmd = Command(update_id=1, chat_id=chat_id, user_id=chat_id, username=username, name=name, args=args,
                  sent_ts=int(time.time() - age_s))
    h.actor.bridge.put(("command", cmd))
    h.deliver(WatchMessage([h.actor.bridge.fd]))


def replies(h, chat_id=OWNER):
    return [t for c, t in h.actor.client.sent if c == chat_id]


def test_the_supervisor_starts_it_only_when_a_token_is_set(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLYCOPY_TELEGRAM_TOKEN", raising=False)
    assert tg.telegram_wanted() is False
    monkeypatch.setenv("POLYCOPY_TELEGRAM_TOKEN", "123:secret-token")
    assert tg.telegram_wanted() is True


def test_kill_trips_through_the_supervisor_and_answers_the_chat(h, logs):
    say(h, "/kill test")
    (trip,) = h.sent_to(h.parent, TripKillSwitch)
    assert trip == TripKillSwitch(reason="test", source=f"telegram @alice in chat {OWNER}")
    assert f"telegram: /kill test from @alice in chat {OWNER}" in logs
    assert replies(h) == []
    h.deliver(KillSwitchChanged(tripped=True, reason="test (telegram @alice in chat 111)"), h.parent)
    assert replies(h) == ["Kill switch: TRIPPED – test (telegram @alice in chat 111)"]
    h.deliver(KillSwitchChanged(tripped=True, reason="test (telegram @alice in chat 111)"), h.parent)
    assert len(replies(h)) == 1  # the reply and the broadcast to every child answer one command once


def test_a_stranger_is_refused_unanswered_and_logged(h, logs):
    say(h, "/kill now", chat_id=STRANGER, username="mallory")
    say(h, "/status", chat_id=STRANGER, username="mallory")
    assert h.sent_to(h.parent) == [] and h.actor.client.sent == []
    assert logs == [f"telegram: refused /kill from @mallory in chat {STRANGER}: not in POLYCOPY_TELEGRAM_CHAT_IDS"]


def test_the_same_driven_supervisor_really_trips(tmp_path, h):
    """The message the actor sends, delivered to the real supervisor: persisted, then told to all."""
    say(h, "/kill phone test")
    (trip,) = h.sent_to(h.parent, TripKillSwitch)
    sup = Harness(StubbedSupervisor, config=h.actor.config)
    asker = ActorAddress("telegram")
    sup.deliver(trip, asker)
    reason = f"phone test (telegram @alice in chat {OWNER})"
    assert control.load_switch(open_db(h.actor.config.store.path), control.KILL_SWITCH) == (True, reason)
    assert sup.sent_to(asker, KillSwitchChanged) == [KillSwitchChanged(tripped=True, reason=reason)]
    h.deliver(sup.sent_to(asker, KillSwitchChanged)[0], h.parent)
    assert replies(h) == [f"Kill switch: TRIPPED – {reason}"]


def test_reset_pause_and_resume_send_their_messages(h):
    say(h, "/reset all clear")
    assert h.sent_to(h.parent, ResetKillSwitch) == [
        ResetKillSwitch(reason=f"telegram @alice in chat {OWNER}: all clear")]
    h.deliver(KillSwitchChanged(tripped=False, reason="x"), h.parent)
    say(h, "/pause quiet hours")
    say(h, "/resume")
    assert h.sent_to(h.parent, PauseEntries) == [PauseEntries(reason="quiet hours",
                                                              source=f"telegram @alice in chat {OWNER}")]
    assert h.sent_to(h.parent, ResumeEntries) == [ResumeEntries(source=f"telegram @alice in chat {OWNER}")]
    assert len(h.sent_to(h.parent, StatusRequest)) == 2
    paused = {"paused": True, "reason": "entries_paused", "operator_pause": "quiet hours", "venue_close_only": ""}
    h.deliver(EntriesChanged(reason="entries_paused"), h.parent)  # told to every child: not an answer
    h.deliver(StatusReply(status={"entries": paused}), h.parent)
    assert replies(h) == ["Kill switch: armed",
                          "New positions: PAUSED – quiet hours\nClosing trades go on; /resume opens again.",
                          "New positions: PAUSED – quiet hours"]


def test_status_pnl_and_positions_answer_from_one_status_reply(h):
    for text in ("/status", "/pnl", "/positions"):
        say(h, text)
    assert len(h.sent_to(h.parent, StatusRequest)) == 3
    h.deliver(StatusReply(status={"mode": "paper", "pid": 7, "telemetry": {"positions": []}}), h.parent)
    status, pnl, positions = replies(h)
    assert status.startswith("polycopy · paper · up ") and "pid 7" in status
    assert pnl.startswith("PnL is not available") and positions == "No open positions."
    h.deliver(StatusReply(status={}), h.parent)
    assert len(replies(h)) == 3  # nothing left waiting


def test_an_unanswered_command_says_so(h, monkeypatch):
    say(h, "/status")
    later = time.monotonic() + tg.ANSWER_S + 1
    monkeypatch.setattr(tg.time, "monotonic", lambda: later)
    h.fire_wakeups(lambda p: p == tg.EXPIRE)
    assert replies(h) == ["/status: the supervisor did not answer within 5 s."]


def test_old_unknown_and_help_commands(h):
    say(h, "/kill", age_s=3600)
    assert h.sent_to(h.parent) == []
    say(h, "/help")
    say(h, "/frobnicate")
    old, help_text, unknown = replies(h)
    assert old.startswith("/kill ignored: it was sent while polycopy was not listening")
    assert help_text.startswith("polycopy commands") and "/kill <why>" in help_text
    assert unknown.startswith("Unknown command.\npolycopy commands")
