"""Telegram control, the pure part: parse an update into a command (total: anything else is None),
and write the answers from the supervisor's status (the dict `run.py --status` prints).

The I/O is polycopy/ops/telegram_client.py; the actor that turns commands into supervisor
messages is polycopy/actors/telegram.py.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_TEXT = 512  # a command is short; the rest of a long message is not read
MAX_ARGS = 200
MAX_ANSWER = 4000  # Telegram refuses messages over 4096 characters
MAX_AGE_S = 120  # older commands waited at Telegram while we were not listening: not obeyed
NAME = re.compile(r"[a-z_]{1,32}")
COMMANDS = ("status", "pnl", "positions", "kill", "reset", "pause", "resume", "help")
HELP = """polycopy commands
/status – mode, kill switch, actors, copies, delays, feeds
/pnl – profit and loss
/positions – open positions
/kill <why> – trip the kill switch: no new orders at all
/reset – reset the kill switch (like run.py --reset-kill)
/pause <why> – open no new positions; closing trades go on
/resume – open new positions again
/help – this list"""


@dataclass(frozen=True, slots=True)
class Command:
    update_id: int
    chat_id: int
    user_id: int
    username: str
    name: str  # without the slash, lower case
    args: str
    sent_ts: int  # unix s, Telegram's date of the message

    def who(self) -> str:
        user = f"@{self.username}" if self.username else f"user {self.user_id}"
        return f"{user} in chat {self.chat_id}"


def _int(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _clean(text: str, limit: int) -> str:
    return "".join(c if c.isprintable() else " " for c in text[:limit]).strip()


def update_id(raw) -> int | None:
    return _int(raw.get("update_id")) if isinstance(raw, dict) else None


def parse_update(raw, bot_username: str = "") -> Command | None:
    """A /command in a message, or None (not a message, not a command, or for another bot)."""
    uid = update_id(raw)
    msg = raw.get("message") if isinstance(raw, dict) else None
    if uid is None or not isinstance(msg, dict):
        return None
    chat, user, text = msg.get("chat"), msg.get("from"), msg.get("text")
    chat_id = _int(chat.get("id")) if isinstance(chat, dict) else None
    if chat_id is None or not isinstance(text, str) or not text.startswith("/"):
        return None
    word, _, rest = text[:MAX_TEXT].partition(" ")
    name, _, to = word[1:].partition("@")
    if to and bot_username and to.lower() != bot_username.lower():
        return None  # "/status@other_bot" in a group
    name = name.lower()
    if not NAME.fullmatch(name):
        return None
    user = user if isinstance(user, dict) else {}
    username = user.get("username") if isinstance(user.get("username"), str) else ""
    return Command(update_id=uid, chat_id=chat_id, user_id=_int(user.get("id")) or 0, username=_clean(username, 64),
                   name=name, args=_clean(rest, MAX_ARGS), sent_ts=_int(msg.get("date")) or 0)


def too_old(cmd: Command, now: float | None = None) -> bool:
    return (time.time() if now is None else now) - cmd.sent_ts > MAX_AGE_S


# ---------------------------------------------------------------- answers


def _d(x: dict | None, *keys, default=None):
    for k in keys:
        if not isinstance(x, dict):
            return default
        x = x.get(k)
    return default if x is None else x


def _duration(s) -> str:
    s = int(s) if isinstance(s, (int, float)) else 0
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    return f"{d}d {h}h" if d else f"{h}h {m:02d}m" if h else f"{m}m {s % 60:02d}s"


def _ms(q: dict | None, key: str) -> str:
    v = _d(q, key)
    return "–" if not isinstance(v, (int, float)) else f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.1f} ms"


def kill_line(tripped: bool, reason: str) -> str:
    return f"Kill switch: TRIPPED – {reason}" if tripped else "Kill switch: armed"


def entries_line(status: dict) -> str:
    """Whether positions may be opened: the operator's pause (its reason) or the venue's close-only mode."""
    entries = _d(status, "entries")
    if not isinstance(entries, dict):
        return "New positions: not reported by this version"
    if not entries.get("paused"):
        return "New positions: open"
    venue = _d(entries, "venue_close_only", default="")
    why = f"the venue allows closing trades only ({venue})" if venue else _d(entries, "operator_pause", default="") \
        or _d(entries, "reason", default="")
    return f"New positions: PAUSED – {why}"


def format_status(status: dict) -> str:
    """The facts of `run.py --status`, for a phone screen."""
    kids = _d(status, "children", default={})
    kids = kids if isinstance(kids, dict) else {}
    down = sorted(n for n, c in kids.items() if not _d(c, "alive", default=False))
    restarts = sum(_d(c, "restarts", default=0) for c in kids.values() if isinstance(_d(c, "restarts"), int))
    tel = _d(status, "telemetry", default={})
    counters = _d(tel, "counters", default={})
    mode, pid, up = _d(status, "mode", default="?"), _d(status, "pid", default="?"), _duration(_d(status, "uptime_s"))
    failures = _d(status, "recent_failures", default=0)
    kill = kill_line(bool(_d(status, "kill_switch", "tripped")), str(_d(status, "kill_switch", "reason", default="")))
    lines = [f"polycopy · {mode} · up {up} · pid {pid}", kill,
             entries_line(status),
             f"Actors: {len(kids) - len(down)}/{len(kids)} alive, {restarts} restarts, {failures} recent failures"
             + (f"; down: {', '.join(down)}" if down else "")]
    if isinstance(counters, dict) and counters:
        orders = ", ".join(f"{counters[k]} {k[7:]}" for k in sorted(counters) if k.startswith("orders_"))
        risk = ", ".join(f"{counters[k]} {k[5:]}" for k in sorted(counters) if k.startswith("risk_"))
        lines.append(f"Orders: {orders or 'none'} · risk: {risk or 'none'}")
    delay, internal = _d(tel, "copy_delay_ms"), _d(tel, "internal_ms")
    if isinstance(delay, dict) and isinstance(internal, dict):
        lines.append(f"Copy delay p50 {_ms(delay, 'p50')}, p95 {_ms(delay, 'p95')} (n={_d(delay, 'n', default=0)})"
                     f" · internal p95 {_ms(internal, 'p95')}")
    feeds = _d(tel, "feeds", default={})
    if isinstance(feeds, dict) and feeds:
        lines.append("Feeds: " + " · ".join(
            f"{n} {'up' if _d(f, 'connected') else 'DOWN'} {_d(f, 'silence_s', default='?')} s"
            + (" (circuit open)" if _d(f, "circuit_open") else "") for n, f in sorted(feeds.items())))
    firing = _d(tel, "alerts_firing", default=[])
    if firing:
        lines.append("Alerts firing: " + ", ".join(str(a) for a in firing)[:500])
    if not tel:
        lines.append("Telemetry: no snapshot yet")
    return _cut("\n".join(lines))


def _positions(status: dict) -> list[dict]:
    rows = _d(status, "telemetry", "positions", default=[])
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _usd(v) -> Decimal:
    try:
        return Decimal(str(v))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _market(row: dict) -> str:
    name = row.get("market") or row.get("title")
    return str(name) if name else f"token …{str(row.get('token_id', '?'))[-8:]}"


def format_positions(status: dict) -> str:
    rows = _positions(status)
    if not rows:
        mode = _d(status, "mode", default="?")
        note = "" if mode in ("paper", "dry_run") else " (positions are reported in paper and dry-run modes only)"
        return f"No open positions{note}."
    lines = [f"{len(rows)} open position(s):"]
    lines += [f"{_market(r)}: {r.get('shares', '?')} shares, cost {_usd(r.get('cost_usd')):.2f} USD" for r in rows[:30]]
    if len(rows) > 30:
        lines.append(f"… and {len(rows) - 30} more")
    return _cut("\n".join(lines))


def format_pnl(status: dict) -> str:
    pnl = _d(status, "pnl") or _d(status, "telemetry", "pnl")
    if isinstance(pnl, dict) and pnl:
        return _cut("PnL:\n" + "\n".join(f"{k}: {v}" for k, v in sorted(pnl.items())))
    rows = _positions(status)
    cost = sum((_usd(r.get("cost_usd")) for r in rows), Decimal(0))
    return (f"PnL is not available: this version's status does not report it yet.\n"
            f"Open positions: {len(rows)}, cost {cost:.2f} USD.")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ANSWER else text[:MAX_ANSWER - 1] + "…"
