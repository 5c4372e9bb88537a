"""Telegram control on the real multiprocess base: the supervisor starts the Telegram actor because
the token is set, and the actor talks to a fake Bot API on loopback through python-telegram-bot.
An allow-listed `/kill test` trips the persisted kill switch; a stranger's `/kill` is refused,
unanswered and logged; `/status` answers with the facts `run.py --status` prints; `/pause` and
`/resume` pause and open entries. The token appears in no log line."""
from __future__ import annotations

import json
import os

import pytest
from loguru import logger

from polycopy import runner
from polycopy.actors import system
from polycopy.actors.supervisor import CHILDREN, Supervisor
from polycopy.actors.telegram import TelegramControl
from polycopy.messages import Init
from polycopy.store import control, open_db
from tests.conftest import make_config
from tests.integration.fake_telegram import FakeBotApi
from tests.integration.inprocess import logged_system
from tests.integration.test_supervision import free_port, wait_for

pytestmark = pytest.mark.integration
TOKEN = "123456789:AAE-fake-token-for-a-loopback-Bot-API-0123"
OWNER, STRANGER = 111, 999
API_ENV = "POLYCOPY_TEST_TELEGRAM_API"


class LoopbackTelegram(TelegramControl):
    """The real actor, pointed at the fake Bot API (the URL reaches the forked process by its environment)."""

    poll_s = 2

    def on_init(self, msg) -> None:
        self.api_url = os.environ[API_ENV]
        super().on_init(msg)


class TelegramSupervisor(Supervisor):
    """The real supervisor; every other child a bare ChildActor."""

    children_spec = {**{role: "polycopy.actors.base:ChildActor" for role in CHILDREN},
                     "telegram": "tests.integration.test_telegram:LoopbackTelegram"}
    coalescer_spec = "polycopy.actors.base:ChildActor"


@pytest.fixture
def api():
    fake = FakeBotApi(TOKEN)
    yield fake
    fake.close()


def test_phone_commands_reach_the_supervisor(tmp_path, monkeypatch, api, capfd):
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("POLYCOPY_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("POLYCOPY_TELEGRAM_CHAT_IDS", f"{OWNER}, 222")
    monkeypatch.setenv(API_ENV, api.url)
    cfg = make_config(tmp_path, actors={"admin_port": free_port(), "ping_interval_ms": 200})
    with logged_system(cfg, tmp_path / "state") as asys:
        sup = asys.createActor(TelegramSupervisor, globalName=system.SUPERVISOR_NAME)
        asys.tell(sup, Init(config=cfg))
        api.wait_call("getUpdates")  # the supervisor started the actor, which polls
        status = wait_for(lambda: (lambda s: s if all(c["pid"] for c in s["children"].values()) else None)(
            runner.status(cfg)), what="every child to answer a ping")
        assert "telegram" in status["children"]

        api.say(STRANGER, "/kill now", username="mallory")
        api.say(OWNER, "/status", username="alice")
        (answer,) = api.wait_answer(OWNER)
        # The facts of `run.py --status` (runner.status is what it prints).
        facts = runner.status(cfg)
        kids = facts["children"]
        assert answer.startswith(f"polycopy · {facts['mode']} · up ") and f"pid {facts['pid']}" in answer
        assert "Kill switch: armed" in answer and facts["kill_switch"]["tripped"] is False
        alive, restarts = sum(c["alive"] for c in kids.values()), sum(c["restarts"] for c in kids.values())
        assert f"Actors: {alive}/{len(kids)} alive, {restarts} restarts, {facts['recent_failures']} recent failures" \
            in answer
        assert api.answers(STRANGER) == []  # refused without an answer, and nothing tripped

        api.say(OWNER, "/kill test", username="alice")
        answers = api.wait_answer(OWNER, count=2)
        assert answers[1] == f"Kill switch: TRIPPED – test (telegram @alice in chat {OWNER})"
        tripped = runner.status(cfg)["kill_switch"]
        assert tripped == {"tripped": True, "reason": f"test (telegram @alice in chat {OWNER})"}
        db = open_db(cfg.store.path, cfg.store.synchronous)
        assert control.load_switch(db, control.KILL_SWITCH) == (True, tripped["reason"])

        api.say(OWNER, "/pause quiet hours", username="alice")
        assert api.wait_answer(OWNER, count=3)[2].startswith("New positions: PAUSED – quiet hours\n")
        assert runner.status(cfg)["entries"]["operator_pause"] == "quiet hours"
        assert control.load_switch(db, control.ENTRIES_PAUSED) == (True, "quiet hours")
        api.say(OWNER, "/resume", username="alice")
        assert api.wait_answer(OWNER, count=4)[3] == "New positions: open"
        assert api.answers(STRANGER) == []
    log = [json.loads(x) for x in cfg.telemetry.log_path.read_text().splitlines()]
    refused = [x for x in log if "refused /kill" in x["msg"]]
    assert len(refused) == 1 and f"@mallory in chat {STRANGER}" in refused[0]["msg"]
    obeyed = [x["msg"] for x in log if x.get("actor") == "telegram" and x["msg"].startswith("telegram: /")]
    commands = ("status", "kill test", "pause quiet hours", "resume")
    assert obeyed == [f"telegram: /{c} from @alice in chat {OWNER}" for c in commands]
    out, err = capfd.readouterr()
    assert TOKEN not in out + err + cfg.telemetry.log_path.read_text()
    assert TOKEN.split(":")[1] not in out + err + cfg.telemetry.log_path.read_text()


# ---------------------------------------------------------------- the client alone, in this process


def drain_until(bridge, want, timeout_s=20.0) -> list:
    got = []
    wait_for(lambda: got.extend(bridge.drain()) or want(got), timeout_s=timeout_s, what="bridge items")
    return got


def test_client_skips_a_malformed_update_and_acknowledges_it(api, recwarn):
    from polycopy.actors.watcher_io import ThreadBridge
    from polycopy.ops.telegram_client import BotClient

    with api.cond:
        api.updates.append({"update_id": 5, "message": "not a message"})
        api.updates.append({"update_id": 6, "message": {"chat": {"id": True}, "text": "/kill"}})
    api.say(OWNER, "/status@polycopy_test_bot", username="alice")
    client = BotClient(TOKEN, api.url, poll_s=1)
    bridge = ThreadBridge("telegram-test")
    bridge.start_async(client.run)
    try:
        got = drain_until(bridge, lambda items: any(k == "command" for k, _ in items))
        assert ("ready", "polycopy_test_bot") in got
        (cmd,) = [c for k, c in got if k == "command"]
        assert (cmd.chat_id, cmd.name, cmd.username) == (OWNER, "status", "alice")
        assert client.reply(OWNER, "answer")
        assert api.wait_answer(OWNER) == ["answer"]
        wait_for(lambda: not api.updates, what="every update acknowledged, the malformed ones too")
    finally:
        bridge.close()
    assert not [w for w in recwarn if "telegram" in str(w.filename)]  # PTB's warnings stay quiet


def test_client_with_a_refused_token_logs_a_hint_and_never_the_token(api):
    from polycopy.actors.watcher_io import ThreadBridge
    from polycopy.ops.telegram_client import BotClient

    lines = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING", format="{message}")
    client = BotClient("987654321:AAE-another-token-the-api-does-not-know", api.url, poll_s=1)
    bridge = ThreadBridge("telegram-test")
    bridge.start_async(client.run)
    try:
        wait_for(lambda: any("check POLYCOPY_TELEGRAM_TOKEN" in x for x in lines), what="the refusal logged")
    finally:
        bridge.close()
        logger.remove(sink)
    assert "AAE-another-token" not in " ".join(lines) and api.sent == []
