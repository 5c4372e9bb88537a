"""The Telegram Bot API client of the control bot: long polling and replies, on an asyncio loop in
the thread of a ThreadBridge (polycopy/actors/watcher_io.py). Commands go to the actor through the
bridge; the actor's replies come back through `reply`, which is safe to call from the actor.

python-telegram-bot does the HTTP and maps the API's errors; updates are fetched raw
(`do_api_request`) and parsed by polycopy/ops/telegram.py, so one malformed update is skipped
instead of failing the whole batch forever. The token is part of every request URL: the HTTP
libraries' loggers are quietened and every error text is scrubbed of it before it is logged.
"""
from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta

from loguru import logger

from polycopy.actors.watcher_io import ThreadBridge
from polycopy.clients.feed import Backoff, RateLimitedLog
from polycopy.ops.logs import make_scrubber
from polycopy.ops.telegram import MAX_ANSWER, parse_update, update_id

API_URL = "https://api.telegram.org/bot"
POLL_S = 25  # long-poll timeout: Telegram answers at once when a message arrives
MAX_UPDATES = 100
OUTBOX_MAX = 100


class BotClient:
    def __init__(self, token: str, api_url: str = API_URL, poll_s: float = POLL_S):
        self._token, self.api_url, self.poll_s = token, api_url, poll_s
        self.scrub = make_scrubber([token])
        self.username = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: asyncio.Queue | None = None
        self._errors = RateLimitedLog(60.0)
        self.log = logger.bind(actor="telegram")

    # ------------------------------------------------------------ actor side

    def reply(self, chat_id: int, text: str) -> bool:
        """Queue an answer (from the actor's thread). False if the client is not running."""
        loop = self._loop
        if loop is None or self._outbox is None:
            return False
        try:
            loop.call_soon_threadsafe(self._enqueue, chat_id, text[:MAX_ANSWER])
            return True
        except RuntimeError:  # the loop is closed
            return False

    def _enqueue(self, chat_id: int, text: str) -> None:
        try:
            self._outbox.put_nowait((chat_id, text))
        except asyncio.QueueFull:
            self._errors.warn(self.log, "outbox", "telegram: {} answers waiting; answer to chat {} dropped",
                              OUTBOX_MAX, chat_id)

    # ------------------------------------------------------------ thread side

    async def run(self, bridge: ThreadBridge) -> None:
        from telegram import Bot
        from telegram.request import HTTPXRequest
        from telegram.warnings import PTBUserWarning

        for name in ("httpx", "httpcore", "telegram"):  # request lines carry the token
            logging.getLogger(name).setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", message="Please use 'Bot.getUpdates'", category=PTBUserWarning)
        self._loop, self._outbox = asyncio.get_running_loop(), asyncio.Queue(maxsize=OUTBOX_MAX)
        self.username = ""  # a restarted thread has a new Bot to initialise
        bot = Bot(self._token, base_url=self.api_url,
                  request=HTTPXRequest(connect_timeout=5.0, read_timeout=10.0),
                  get_updates_request=HTTPXRequest(connect_timeout=5.0, read_timeout=self.poll_s + 10.0))
        sender = asyncio.create_task(self._send_loop(bot))
        try:
            await self._poll_loop(bot, bridge)
        finally:
            sender.cancel()
            try:
                await bot.shutdown()
            except Exception:  # noqa: BLE001 - closing what may never have opened
                pass

    async def _poll_loop(self, bot, bridge: ThreadBridge) -> None:
        backoff, attempt, offset = Backoff(1.0, 60.0), 0, None
        while not bridge.stop_event.is_set():
            try:
                if not self.username:
                    await bot.initialize()  # getMe: checks the token, learns our @name
                    self.username = bot.username or ""
                    bridge.put(("ready", self.username))
                raw = await bot.do_api_request(
                    "getUpdates", api_kwargs={"offset": offset, "timeout": int(self.poll_s), "limit": MAX_UPDATES,
                                              "allowed_updates": ["message"]}, read_timeout=self.poll_s + 10.0)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - every failure waits and tries again
                attempt += 1
                await asyncio.sleep(self._failed(e, backoff.delay(attempt)))
                continue
            attempt = 0
            items = raw[:MAX_UPDATES] if isinstance(raw, list) else []
            before = offset
            for item in items:
                uid = update_id(item)
                if uid is not None:
                    offset = max(offset or 0, uid + 1)  # acknowledged by the next poll, parsed or not
                cmd = parse_update(item, self.username)
                if cmd is not None:
                    bridge.put(("command", cmd))
            if items and offset == before:  # updates we cannot acknowledge: do not spin on them
                attempt += 1
                self._errors.warn(self.log, "no-ids", "telegram: {} updates without an id", len(items))
                await asyncio.sleep(backoff.delay(attempt))

    def _failed(self, e: Exception, delay: float) -> float:
        """Log (rate-limited, scrubbed) and return how long to wait before the next poll."""
        from telegram.error import Conflict, InvalidToken, RetryAfter

        if isinstance(e, RetryAfter):
            ra = e.retry_after
            delay = ra.total_seconds() if isinstance(ra, timedelta) else float(ra)
        elif isinstance(e, InvalidToken):
            delay = 300.0
        text = self.scrub(f"{type(e).__name__}: {e}")[:300]
        hint = (" (another program polls with this token)" if isinstance(e, Conflict) else
                " (check POLYCOPY_TELEGRAM_TOKEN)" if isinstance(e, InvalidToken) else "")
        self._errors.warn(self.log, type(e).__name__, "telegram: {}{}; next try in {:.0f} s", text, hint, delay)
        return delay

    async def _send_loop(self, bot) -> None:
        from telegram.error import RetryAfter

        while True:
            chat_id, text = await self._outbox.get()
            for _ in range(2):
                try:
                    await bot.send_message(chat_id=chat_id, text=text)
                    break
                except RetryAfter as e:
                    ra = e.retry_after
                    await asyncio.sleep(min(30.0, ra.total_seconds() if isinstance(ra, timedelta) else float(ra)))
                except Exception as e:  # noqa: BLE001 - one lost answer; the command itself was obeyed
                    self._errors.warn(self.log, "send", "telegram: answer to chat {} not sent: {}", chat_id,
                                      self.scrub(f"{type(e).__name__}: {e}")[:300])
                    break
