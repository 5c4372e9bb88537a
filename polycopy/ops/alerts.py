"""Alerts: the rules that raise them (feeds, auto kill), which to send (de-dup, cooldown,
"resolved"), and sending them through apprise.

Destinations are apprise URLs from POLYCOPY_ALERT_URLS (json:// for a generic webhook, tgram://,
discord://, ntfy://, ...). Sending happens on one small worker thread with a bounded queue inside
the telemetry process, so a slow or dead destination never blocks the actor's message loop; the
thread never touches the actor (it only sends HTTP), and telemetry never creates actors.
"""
from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field

from loguru import logger

QUEUE_MAX = 200


@dataclass(frozen=True, slots=True)
class Notice:
    condition: str
    title: str
    body: str
    kind: str  # "failure" | "warning" | "success" (apprise notify types)


@dataclass(slots=True)
class _Active:
    since: float
    last_sent: float
    last_fire: float
    suppressed: int = 0
    text: str = ""
    event: bool = False  # a one-off (a restart): forgotten after a quiet cooldown, never "resolved"


@dataclass
class AlertPolicy:
    """One notice per condition per `cooldown_s` while it fires, and one when it is resolved."""

    cooldown_s: float
    active: dict = field(default_factory=dict)  # condition -> _Active

    def fire(self, condition: str, text: str, now: float | None = None, event: bool = False) -> Notice | None:
        now = time.monotonic() if now is None else now
        a = self.active.get(condition)
        if a is None:
            self.active[condition] = _Active(since=now, last_sent=now, last_fire=now, text=text, event=event)
            return Notice(condition, f"polycopy ALERT: {condition}", text, "failure")
        a.text, a.last_fire = text, now
        if now - a.last_sent < self.cooldown_s:
            a.suppressed += 1
            return None
        repeats, a.suppressed, a.last_sent = a.suppressed, 0, now
        body = f"{text} (still firing for {now - a.since:.0f} s; {repeats} repeats not sent)"
        return Notice(condition, f"polycopy ALERT: {condition}", body, "failure")

    def resolve(self, condition: str, text: str = "", now: float | None = None) -> Notice | None:
        now = time.monotonic() if now is None else now
        a = self.active.pop(condition, None)
        if a is None:
            return None
        body = f"{text or a.text} (resolved after {now - a.since:.0f} s)"
        return Notice(condition, f"polycopy RESOLVED: {condition}", body, "success")

    def expire(self, now: float | None = None) -> None:
        """Forget one-off conditions that have been quiet for a whole cooldown."""
        now = time.monotonic() if now is None else now
        for c in [c for c, a in self.active.items() if a.event and now - a.last_fire >= self.cooldown_s]:
            del self.active[c]

    def firing(self) -> dict:
        return {c: {"since_s": round(time.monotonic() - a.since, 1), "text": a.text} for c, a in self.active.items()}


NO_FILL_REASONS = ("fak_no_match", "fok_not_filled")  # the market, not a fault: not an error for the kill rate


def order_failed(status: str, reason: str) -> bool:
    """An order sent that counts as an error for the auto kill."""
    return status == "unknown" or (status == "rejected" and reason not in NO_FILL_REASONS)


def kill_reason(orders, internal_ms: list[float], risk) -> str:
    """Why the auto kill must trip ("" = it must not). `orders`: the failed flags of the orders
    sent inside `risk.kill_window_s`; `internal_ms`: internal latencies in the same window."""
    n = len(orders)
    if n >= risk.kill_min_orders:
        failed = sum(1 for f in orders if f)
        if failed / n >= risk.kill_error_rate:
            return f"error rate {failed}/{n} orders in {risk.kill_window_s} s (limit {risk.kill_error_rate:.0%})"
    if len(internal_ms) >= risk.kill_min_orders:
        p95 = sorted(internal_ms)[max(0, math.ceil(0.95 * len(internal_ms)) - 1)]
        if p95 > risk.kill_p95_internal_ms:
            return (f"p95 internal latency {p95:.1f} ms over {len(internal_ms)} copies "
                    f"(limit {risk.kill_p95_internal_ms} ms)")
    return ""


def feed_conditions(name: str, silence_s: float, circuit_open: bool, down_s: float | None, limit_s: float,
                    detail: str = "") -> list[tuple[str, bool, str]]:
    """(condition, firing, text) for one feed: silent too long; failing (circuit open or down too long)."""
    out = [(f"feed_silent:{name}", silence_s > limit_s,
            f"{name} delivered nothing for {silence_s:.0f} s" if silence_s > limit_s else f"{name} delivering again")]
    if circuit_open or (down_s is not None and down_s > limit_s):
        why = "circuit breaker open" if circuit_open else f"disconnected for {down_s:.0f} s"
        out.append((f"feed_failing:{name}", True, f"{name} failing: {why} {detail}".strip()))
    else:
        out.append((f"feed_failing:{name}", False, f"{name} working again"))
    return out


def split_urls(raw: str | None) -> list[str]:
    return [u for u in (raw or "").replace(",", " ").split() if u]


class _ToLoguru(logging.Handler):
    """apprise logs through stdlib logging; route it to loguru, whose sinks scrub secrets."""

    def emit(self, record: logging.LogRecord) -> None:
        logger.bind(actor="alerts").log(record.levelname if record.levelname in ("WARNING", "ERROR") else "INFO",
                                        "apprise: {}", record.getMessage())


class AlertSender:
    """A worker thread that delivers Notices through apprise. `submit` never blocks."""

    def __init__(self, urls: list[str], scrub=None):
        import apprise  # slow import; only the telemetry process pays for it

        self.scrub = scrub or (lambda text: text)  # secret values never leave in an alert either
        # Delivered directly on this class's own thread: apprise's parallel mode and its service
        # deadline both wait on a process-wide thread pool, which hangs for ever in a process forked
        # after the pool was used. Each destination's own HTTP timeouts (cto/rto, 4 s) still apply.
        self.apprise = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False, service_timeout=0))
        self.bad_urls = [u for u in urls if not self.apprise.add(u)]
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_MAX)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        alog = logging.getLogger("apprise")
        alog.propagate = False
        alog.setLevel(logging.WARNING)
        if not any(isinstance(h, _ToLoguru) for h in alog.handlers):
            alog.addHandler(_ToLoguru())
        self.thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)
        self.thread.start()

    @property
    def targets(self) -> int:
        return len(self.apprise)

    def submit(self, notice: Notice) -> bool:
        try:
            self.queue.put_nowait(notice)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def close(self, timeout_s: float = 2.0) -> None:
        """Deliver what is queued (up to the timeout), then stop the thread."""
        try:
            self.queue.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self.thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            notice = self.queue.get()
            if notice is None:
                return
            try:
                ok = self.apprise.notify(body=self.scrub(notice.body), title=self.scrub(notice.title),
                                         notify_type=notice.kind)
            except Exception as e:  # noqa: BLE001 - a broken destination must not kill the thread
                logger.bind(actor="alerts").warning("alert {} not delivered: {}", notice.condition, type(e).__name__)
                ok = False
            if ok:
                self.sent += 1
            else:
                self.failed += 1
                logger.bind(actor="alerts").warning("alert {} not delivered to every destination", notice.condition)
