"""loguru, configured once in the runner before the actor system starts (actors inherit it by fork).

Sinks: JSON lines (or plain text) on stdout, and a rotated `polycopy.log`. A patcher
replaces every secret value with `[REDACTED]` in the message and the extra fields, so no sink
ever sees one.
"""
from __future__ import annotations

import sys
from pathlib import Path

from loguru import logger

REDACTED = "[REDACTED]"


def make_redactor(secret_values: list[str]):
    values = sorted({v for v in secret_values if v}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for v in values:
            if v in text:
                text = text.replace(v, REDACTED)
        return text

    def patch(record) -> None:
        record["message"] = scrub(record["message"])
        for k, v in list(record["extra"].items()):
            if isinstance(v, str):
                record["extra"][k] = scrub(v)
        exc = record["exception"]
        if exc is not None and exc.value is not None and any(v in str(exc.value) for v in values):
            record["exception"] = None  # a traceback that quotes a secret is dropped whole
            record["message"] += f" ({type(exc.value).__name__}: {scrub(str(exc.value))})"

    return patch


def setup_logging(*, level: str, log_path: Path | None, json_stdout: bool, secret_values: list[str]) -> None:
    logger.remove()
    logger.configure(patcher=make_redactor(secret_values), extra={"actor": "runner"})
    fmt = "{time:YYYY-MM-DD HH:mm:ss.SSS} {level:<7} {extra[actor]:<10} {message}"
    if json_stdout:
        logger.add(sys.stdout, level=level, serialize=True, backtrace=False, diagnose=False)
    else:
        logger.add(sys.stdout, level=level, format=fmt, backtrace=False, diagnose=False)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        logger.add(str(log_path), level=level, serialize=True, rotation="50 MB", retention=10, backtrace=False, diagnose=False)
