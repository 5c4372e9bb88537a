"""Control from the phone (opt-in): a Telegram bot that turns the operator's commands into the
messages `run.py` sends the supervisor, and relays the answers.

Started by the supervisor only when POLYCOPY_TELEGRAM_TOKEN is set. Only the chats listed in
POLYCOPY_TELEGRAM_CHAT_IDS are obeyed; anyone else is refused without an answer and logged (a
refused chat's id is in the log line, which is how an operator finds their own). Every command
is logged with who sent it. The Telegram client runs in a thread behind a ThreadBridge, like
the watchers' feeds; this actor never waits on it, and it never sends to an actor.

Answers: the supervisor replies to each command (KillSwitchChanged, StatusReply); the oldest
waiting command of the same kind takes the answer. One not answered in ANSWER_S is told so.
"""
from __future__ import annotations

import time
from collections import deque
from datetime import timedelta

from polycopy.actors.base import ChildActor
from polycopy.actors.watcher_io import ThreadBridge
from polycopy.clients.feed import RateLimitedLog
from polycopy.errors import ConfigError
from polycopy.messages import (KillSwitchChanged, PauseEntries, ResetKillSwitch, ResumeEntries, StatusReply,
                               StatusRequest, TripKillSwitch)
from polycopy.ops.telegram import (COMMANDS, HELP, Command, entries_line, format_pnl, format_positions,
                                   format_status, kill_line, too_old)
from polycopy.ops.telegram_client import API_URL, POLL_S, BotClient

ANSWER_S = 5.0
EXPIRE = "telegram-expire"
RESTART_IO = "telegram-restart"
# /pause and /resume are answered from the status asked right after them (the supervisor handles
# both in order), which says the operator's reason and any venue close-only mode too.
STATUS_ANSWERS = {"status": format_status, "pnl": format_pnl, "positions": format_positions,
                  "pause": lambda s: entries_line(s) + "\nClosing trades go on; /resume opens again.",
                  "resume": entries_line}


def telegram_wanted(_cfg=None) -> bool:
    """Whether the supervisor starts this actor: a token is set (a bad chat list still starts it, to say so)."""
    from polycopy import bootstrap

    try:
        return bootstrap.secrets().telegram_token is not None
    except ConfigError:
        return True


class TelegramControl(ChildActor):
    role = "telegram"
    api_url = API_URL  # tests point a subclass at a fake Bot API on loopback
    poll_s = POLL_S

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bridge: ThreadBridge | None = None
        self.client: BotClient | None = None
        self.allowed: frozenset[int] = frozenset()
        self.pending: deque = deque()  # (kind, command, deadline)
        self.refusals = RateLimitedLog(60.0)

    def on_init(self, msg) -> None:
        from polycopy import bootstrap

        try:
            secrets = bootstrap.secrets()
        except ConfigError as e:
            self.log.error("Telegram control is off: {}", e)
            return
        if secrets.telegram_token is None:
            self.log.info("Telegram control is off: POLYCOPY_TELEGRAM_TOKEN is not set")
            return
        self.allowed = frozenset(secrets.telegram_chat_ids)
        if not self.allowed:
            self.log.error("POLYCOPY_TELEGRAM_CHAT_IDS is empty: every chat is refused (its id is logged)")
        self.client = BotClient(secrets.telegram_token.get_secret_value(), self.api_url, self.poll_s)
        self._start()

    def _start(self) -> None:
        self.bridge = ThreadBridge("telegram-io")
        self.bridge.start_async(self.client.run)

    def _stop(self) -> None:
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None

    def on_exit(self) -> None:
        self._stop()

    def watch_fds(self) -> list:
        return [self.bridge.fd] if self.bridge is not None else []

    def on_wakeup(self, payload) -> None:
        if payload == EXPIRE:
            self._expire()
        elif payload == RESTART_IO and self.bridge is None and self.client is not None:
            self._start()

    # ------------------------------------------------------------ from Telegram

    def receiveMsg_WatchMessage(self, msg, sender) -> None:
        if self.bridge is None:
            return
        for kind, data in self.bridge.drain():
            if kind == "command":
                self._command(data)
            elif kind == "ready":
                self.log.info("Telegram control on as @{}; {} chat(s) allowed", data, len(self.allowed))
            elif kind == "died":
                self.log.error("Telegram thread died ({}); restarting it in 5 s", data)
                self._stop()
                self.wakeupAfter(timedelta(seconds=5), payload=RESTART_IO)
                return

    def _command(self, cmd: Command) -> None:
        if cmd.chat_id not in self.allowed:
            self.refusals.warn(self.log, str(cmd.chat_id), "telegram: refused /{} from {}: not in "
                               "POLYCOPY_TELEGRAM_CHAT_IDS", cmd.name, cmd.who())
            return
        self.log.bind(telegram_chat=cmd.chat_id, telegram_user=cmd.user_id).info(
            "telegram: /{}{} from {}", cmd.name, f" {cmd.args}" if cmd.args else "", cmd.who())
        if too_old(cmd):
            self._reply(cmd, f"/{cmd.name} ignored: it was sent while polycopy was not listening. Send it again.")
            return
        if cmd.name not in COMMANDS or cmd.name == "help":
            self._reply(cmd, HELP if cmd.name in COMMANDS or cmd.name == "start" else f"Unknown command.\n{HELP}")
            return
        source = f"telegram {cmd.who()}"
        if cmd.name == "kill":
            self._ask(cmd, "kill", TripKillSwitch(reason=cmd.args or "telegram /kill", source=source))
        elif cmd.name == "reset":
            self._ask(cmd, "reset", ResetKillSwitch(reason=f"{source}: {cmd.args or 'reset'}"))
        else:
            if cmd.name == "pause":
                self.send(self.parent, PauseEntries(reason=cmd.args or "telegram /pause", source=source))
            elif cmd.name == "resume":
                self.send(self.parent, ResumeEntries(source=source))
            self._ask(cmd, "status", StatusRequest())

    def _ask(self, cmd: Command, kind: str, msg) -> None:
        self.pending.append((kind, cmd, time.monotonic() + ANSWER_S))
        self.send(self.parent, msg)
        self.wakeupAfter(timedelta(seconds=ANSWER_S + 0.1), payload=EXPIRE)

    # ------------------------------------------------------------ from the supervisor

    def receiveMsg_StatusReply(self, msg: StatusReply, sender) -> None:
        for kind, cmd in self._take(lambda k: k == "status", every=True):
            self._reply(cmd, STATUS_ANSWERS[cmd.name](msg.status))

    def on_kill_switch(self, msg: KillSwitchChanged) -> None:
        """The supervisor's answer to /kill or /reset (or a change told to every child)."""
        want = "kill" if msg.tripped else "reset"
        for _, cmd in self._take(lambda k: k == want, every=False):
            self._reply(cmd, kill_line(msg.tripped, msg.reason))

    def _take(self, match, every: bool) -> list:
        taken, kept = [], deque()
        for kind, cmd, deadline in self.pending:
            if match(kind) and (every or not taken):
                taken.append((kind, cmd))
            else:
                kept.append((kind, cmd, deadline))
        self.pending = kept
        return taken

    def _expire(self) -> None:
        now = time.monotonic()
        while self.pending and self.pending[0][2] <= now:
            _, cmd, _ = self.pending.popleft()
            self.log.warning("telegram: /{} from {} got no answer from the supervisor", cmd.name, cmd.who())
            self._reply(cmd, f"/{cmd.name}: the supervisor did not answer within {ANSWER_S:.0f} s.")

    def _reply(self, cmd: Command, text: str) -> None:
        if self.client is None or not self.client.reply(cmd.chat_id, text):
            self.log.warning("telegram: answer to /{} not sent (client not running)", cmd.name)
