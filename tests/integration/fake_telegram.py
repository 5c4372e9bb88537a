"""A fake Telegram Bot API on loopback: getMe, getUpdates (long polling, offsets acknowledge) and
sendMessage, enough for python-telegram-bot pointed at it with `base_url`. `say` queues a
message as a user would send it; `wait_answer` waits for what the bot sent to a chat."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

NUMERIC = ("offset", "timeout", "limit", "chat_id", "allowed_updates")


class FakeBotApi:
    def __init__(self, token: str, username: str = "polycopy_test_bot"):
        self.token, self.username = token, username
        self.updates: list[dict] = []
        self.sent: list[tuple[int, str]] = []
        self.calls: list[str] = []
        self.cond = threading.Condition()
        self.closed = False
        self._next_update = 1000
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/bot"

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------ the test's side

    def say(self, chat_id: int, text: str, user_id: int = 0, username: str = "", age_s: float = 0) -> int:
        with self.cond:
            self._next_update += 1
            user = {"id": user_id or chat_id, "is_bot": False, "first_name": username or "someone"}
            if username:
                user["username"] = username
            self.updates.append({"update_id": self._next_update, "message": {
                "message_id": self._next_update, "date": int(time.time() - age_s), "text": text, "from": user,
                "chat": {"id": chat_id, "type": "private"}}})
            self.cond.notify_all()
            return self._next_update

    def answers(self, chat_id: int) -> list[str]:
        with self.cond:
            return [t for c, t in self.sent if c == chat_id]

    def wait_answer(self, chat_id: int, count: int = 1, timeout_s: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while len([1 for c, _ in self.sent if c == chat_id]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no answer #{count} to chat {chat_id}; sent so far: {self.sent}")
                self.cond.wait(left)
            return [t for c, t in self.sent if c == chat_id]

    def wait_call(self, method: str, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while method not in self.calls:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{method} never called; calls: {self.calls}")
                self.cond.wait(left)

    # ------------------------------------------------------------ the Bot API

    def _api(self, method: str, params: dict):
        if method == "getMe":
            return {"id": 42, "is_bot": True, "first_name": "polycopy", "username": self.username}
        if method == "getUpdates":
            offset, timeout = params.get("offset") or 0, min(float(params.get("timeout") or 0), 5.0)
            deadline = time.monotonic() + timeout
            with self.cond:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]  # acknowledged
                while not self.updates and not self.closed and time.monotonic() < deadline:
                    self.cond.wait(deadline - time.monotonic())
                return list(self.updates)
        if method == "sendMessage":
            with self.cond:
                self.sent.append((int(params["chat_id"]), params["text"]))
                self.cond.notify_all()
            chat = {"id": int(params["chat_id"]), "type": "private"}
            return {"message_id": 1, "date": int(time.time()), "chat": chat, "text": params["text"]}
        return None

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                prefix = f"/bot{api.token}/"
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if not self.path.startswith(prefix):
                    return self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                method = self.path[len(prefix):]
                params = {k: v[0] for k, v in parse_qs(body).items()}
                for k in NUMERIC:
                    if k in params:
                        params[k] = json.loads(params[k])
                with api.cond:
                    api.calls.append(method)
                    api.cond.notify_all()
                result = api._api(method, params)
                if result is None:
                    return self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                self._answer(200, {"ok": True, "result": result})

            def _answer(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a cancelled long poll at shutdown)

            def log_message(self, *args):  # quiet: the request line holds the token
                pass

        return Handler
