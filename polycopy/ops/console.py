"""The console for a person: one short line per event, coloured by level (logs.py holds the sinks).

A copy's events are logged with structured fields (`event(...)` below: stage, market name, side,
size, price, outcome, reason); the console prints them as columns:

    20:31:04.512 intent  BTC Up · 8:30–8:45 PM ET    BUY    5.00 @ 0.530  leading         1 fill
    20:31:04.520 risk    BTC Up · 8:30–8:45 PM ET    BUY    5.00 @ 0.530  approved        2.65 USD reserved
    20:31:04.531 order   BTC Up · 8:30–8:45 PM ET    BUY    5.00 @ 0.540  filled          matched

Other lines print as `time actor message`, long token ids and keys shortened ("5633…0586"; the
JSON file keeps them whole). Warnings and errors say so in words as well as in colour
(`12:00:01.002 ERROR executor ...`). Lines bound `trace=True` (a copy's stage timings, four a copy)
stay out of the console and go to the file only; the copy's one summary line stands for them.
"""
from __future__ import annotations

import os
import re
import traceback

from polycopy.ops.names import market_name, short_token

LONG_ID = re.compile(r"\b(?:0x[0-9a-fA-F]{40,}|\d{20,})\b")
RESET = "\x1b[0m"
LEVEL_COLOR = {"DEBUG": "\x1b[2m", "WARNING": "\x1b[33m", "ERROR": "\x1b[1;31m", "CRITICAL": "\x1b[1;37;41m"}
OUTCOME_COLOR = {"filled": "\x1b[32m", "approved": "\x1b[32m", "copied": "\x1b[32m", "partial": "\x1b[36m",
                 "clipped": "\x1b[36m", "rejected": "\x1b[31m", "dropped": "\x1b[33m", "not_sent": "\x1b[33m",
                 "unknown": "\x1b[1;31m", "dry_run": "\x1b[36m"}
STAGE_W, MARKET_W = 7, 30


def event(stage: str, *, market=None, token_id: str = "", slug: str = "", side: str = "", size=None, price=None,
          outcome: str = "", reason: str = "", detail: str = "") -> dict:
    """The fields to bind on a copy's log line: `self.log.bind(**event(...)).info(...)`. The JSON
    line keeps them as keys (with the token id); the console prints them as columns."""
    fields = {"stage": stage, "market": market_name(market, token_id, slug=slug), "token_id": str(token_id)}
    for k, v in (("side", side), ("size", size), ("price", price), ("outcome", outcome), ("reason", reason),
                 ("detail", detail)):
        if v not in (None, ""):
            fields[k] = str(v)
    return fields


def wants_color(fd: int) -> bool:
    return os.isatty(fd) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def shorten_ids(text: str) -> str:
    return LONG_ID.sub(lambda m: _short(m.group(0)), text)


def _short(s: str) -> str:
    return f"0x{s[2:6]}…{s[-4:]}" if s.startswith("0x") else short_token(s)


def _num(v: str, places: int) -> str:
    try:
        return f"{float(v):.{places}f}"
    except (TypeError, ValueError):
        return str(v)


def make_human(color: bool):
    """A renderer of loguru records to one console line (two colours at most: level, outcome)."""

    def paint(text: str, code: str | None) -> str:
        return f"{code}{text}{RESET}" if color and code else text

    def render(record) -> str:
        extra, level = record["extra"], record["level"].name
        when = f"{record['time']:%H:%M:%S.%f}"[:-3]
        if extra.get("stage"):
            trade = ""
            if extra.get("side"):
                trade = f"{extra['side']:<4} {_num(extra.get('size', ''), 2):>8}"
                if extra.get("price"):
                    trade += f" @ {_num(extra['price'], 3)}"
            outcome = extra.get("outcome", "")
            tail = " ".join(x for x in (extra.get("reason", ""), extra.get("detail", "")) if x)
            body = (f"{extra['stage']:<{STAGE_W}} {extra.get('market', ''):<{MARKET_W}} {trade:<22} "
                    f"{paint(f'{outcome:<9}', OUTCOME_COLOR.get(outcome))} {shorten_ids(tail)}").rstrip()
        else:
            body = f"{extra.get('actor', 'runner'):<{STAGE_W}} {shorten_ids(record['message'])}"
        if level not in ("INFO", "DEBUG"):  # the word too: a log without colours still tells (grep " ERROR ")
            body = paint(f"{level} {body}", LEVEL_COLOR.get(level))
        line = f"{paint(when, chr(27) + '[2m')} {body}"
        exc = record["exception"]
        if exc is not None and exc.type is not None:
            line += "\n" + "".join(traceback.format_exception(exc.type, exc.value, exc.traceback)).rstrip()
        return line

    return render


def on_console(record) -> bool:
    """loguru filter of the console sink: trace lines go to the file only."""
    return not record["extra"].get("trace")
