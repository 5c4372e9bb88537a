"""Alerts: de-dup and cooldown per condition, "resolved", and delivery to a local webhook."""
from __future__ import annotations

import json
import multiprocessing
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from polycopy.ops.alerts import AlertPolicy, AlertSender, Notice, split_urls


class Receiver:
    """A webhook on 127.0.0.1 that records every JSON body posted to it."""

    def __init__(self):
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                outer.bodies.append({"path": self.path, **json.loads(self.rfile.read(n))})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="hook"):
        return f"json://127.0.0.1:{self.port}/{path}"

    def wait(self, n, timeout_s=10):
        deadline = time.monotonic() + timeout_s
        while len(self.bodies) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.bodies

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_one_notice_per_condition_per_cooldown_then_resolved():
    p = AlertPolicy(cooldown_s=300)
    first = p.fire("feed_silent:rtds", "rtds silent 61 s", now=1000)
    assert first and first.kind == "failure" and "feed_silent:rtds" in first.title
    assert p.fire("feed_silent:rtds", "rtds silent 70 s", now=1010) is None
    assert p.fire("feed_silent:rtds", "rtds silent 80 s", now=1020) is None
    other = p.fire("heartbeat", "heartbeats failing", now=1020)
    assert other is not None  # conditions are independent
    again = p.fire("feed_silent:rtds", "rtds silent 400 s", now=1301)
    assert again and "2 repeats not sent" in again.body and "301 s" in again.body
    done = p.resolve("feed_silent:rtds", "rtds delivering again", now=1310)
    assert done and done.kind == "success" and "RESOLVED" in done.title and "310 s" in done.body
    assert p.resolve("feed_silent:rtds", now=1311) is None  # resolved once only
    assert p.resolve("never_fired") is None
    assert set(p.firing()) == {"heartbeat"}


def test_one_off_events_are_forgotten_after_a_quiet_cooldown():
    p = AlertPolicy(cooldown_s=60)
    assert p.fire("child_restart", "risk exited (#1)", now=0, event=True)
    assert p.fire("heartbeat", "failing", now=0) is not None
    assert p.fire("child_restart", "risk exited (#2)", now=30, event=True) is None
    p.expire(now=80)
    assert set(p.firing()) == {"child_restart", "heartbeat"}  # quiet for 50 s only
    p.expire(now=95)
    assert set(p.firing()) == {"heartbeat"}  # a state condition waits for its "resolved"
    assert p.fire("child_restart", "risk exited (#3)", now=100, event=True) is not None  # a new episode


def test_split_urls_accepts_commas_and_spaces():
    assert split_urls("json://a/b, tgram://x/y  ntfy://t") == ["json://a/b", "tgram://x/y", "ntfy://t"]
    assert split_urls(None) == [] and split_urls("  ") == []


def test_sender_posts_to_a_json_webhook(receiver):
    s = AlertSender([receiver.url()])
    assert s.targets == 1 and s.bad_urls == []
    assert s.submit(Notice("kill_switch", "polycopy ALERT: kill_switch", "kill switch tripped: test", "failure"))
    bodies = receiver.wait(1)
    s.close()
    assert len(bodies) == 1
    assert bodies[0]["path"] == "/hook"
    assert bodies[0]["title"] == "polycopy ALERT: kill_switch"
    assert bodies[0]["message"] == "kill switch tripped: test"
    assert bodies[0]["type"] == "failure"
    assert s.sent == 1 and s.failed == 0


def test_dead_destination_counts_a_failure_and_never_blocks_submit():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = AlertSender([f"json://127.0.0.1:{port}/x?cto=0.5&rto=0.5"])
    assert all(s.submit(Notice("c", "t", f"b{i}", "failure")) for i in range(5))  # queued, never sent inline
    deadline = time.monotonic() + 15
    while s.failed < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    s.close()
    assert s.failed == 5 and s.sent == 0


def test_unparseable_url_is_reported_not_raised():
    s = AlertSender(["notascheme://", "json://127.0.0.1:1/ok"])
    assert s.bad_urls == ["notascheme://"] and s.targets == 1
    s.close()


def _send_from_child(url: str) -> None:
    s = AlertSender([url])
    s.submit(Notice("c", "t", "from the child", "failure"))
    s.close(10)
    raise SystemExit(0 if s.sent == 1 else 1)


def test_a_process_forked_after_a_send_can_still_send(receiver):
    """apprise's shared thread pool hung in forked children; telemetry is a forked process."""
    parent = AlertSender([receiver.url("parent")])
    parent.submit(Notice("c", "t", "from the parent", "failure"))
    receiver.wait(1)
    parent.close()
    child = multiprocessing.get_context("fork").Process(target=_send_from_child, args=(receiver.url("child"),))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert [b["message"] for b in receiver.wait(2)] == ["from the parent", "from the child"]
