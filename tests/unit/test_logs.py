"""Logging: secrets never reach a sink; several forked writers share one rotated file safely."""
from __future__ import annotations

import json
import multiprocessing
import sys

import pytest
from loguru import logger

from polycopy.ops.logs import REDACTED, setup_logging

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
API_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
PASSPHRASE = "9f1c2d3e4b5a69788796a5b4c3d2e1f0"
ALERT_URL = "tgram://123456789:AAHsecretBotTokenValue0123456789/987654321"
SECRETS = [KEY, API_SECRET, PASSPHRASE, ALERT_URL]


@pytest.fixture(autouse=True)
def restore_loguru():
    yield
    logger.remove()
    logger.configure(patcher=None, extra={})
    logger.add(sys.stderr)


def everything_written(tmp_path, capfd) -> str:
    out, err = capfd.readouterr()
    files = "".join(p.read_text() for p in tmp_path.rglob("*.log*") if p.is_file())
    return out + err + files


def test_no_secret_reaches_stdout_or_the_file(tmp_path, capfd):
    log = tmp_path / "polycopy.log"
    setup_logging(level="DEBUG", log_path=log, json_stdout=True, secret_values=SECRETS)
    logger.info("signing with {}", KEY)
    logger.bind(actor="executor", creds=API_SECRET).warning("passphrase {} key {}", PASSPHRASE, KEY[2:].upper())
    logger.bind(extra_dict={"secret": API_SECRET}).info("a dict extra")
    try:
        raise RuntimeError(f"request failed for key {KEY} with {API_SECRET}")
    except RuntimeError:
        logger.exception("boom")
    logger.error("alert sink {} failed (bot token AAHsecretBotTokenValue0123456789)", ALERT_URL)
    text = everything_written(tmp_path, capfd)
    for s in [KEY, KEY[2:], KEY[2:].upper(), API_SECRET, PASSPHRASE, ALERT_URL, "AAHsecretBotTokenValue0123456789"]:
        assert s.lower() not in text.lower()
    assert text.count(REDACTED) >= 8
    assert "RuntimeError" in text  # the exception is still reported, only the values are gone


def test_json_lines_carry_actor_and_correlation_id(tmp_path, capfd):
    log = tmp_path / "polycopy.log"
    setup_logging(level="INFO", log_path=log, json_stdout=True, secret_values=[])
    logger.bind(actor="telemetry", corr="0xabc|tok|BUY|0.5|10|0").info("copy stages")
    logger.debug("below the level")
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 1
    assert lines[0]["actor"] == "telemetry" and lines[0]["corr"] == "0xabc|tok|BUY|0.5|10|0"
    assert lines[0]["msg"] == "copy stages" and lines[0]["level"] == "INFO"
    out = [json.loads(x) for x in capfd.readouterr().out.splitlines()]
    assert out == lines


def test_plain_text_stdout(tmp_path, capfd):
    setup_logging(level="INFO", log_path=None, json_stdout=False, secret_values=[KEY])
    logger.bind(actor="risk").info("key is {}", KEY)
    out = capfd.readouterr().out
    assert "risk" in out and REDACTED in out and KEY not in out


def _writer(n: int, lines: int) -> None:
    for i in range(lines):
        logger.bind(actor=f"w{n}").info("line {} {} {}", n, i, "x" * 200)


def test_forked_writers_share_one_rotated_file_without_loss(tmp_path, capfd):
    log = tmp_path / "polycopy.log"
    setup_logging(level="INFO", log_path=log, json_stdout=True, secret_values=[], rotate_mb=0.02, keep_files=200)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(n, 300)) for n in range(4)]
    for p in procs:
        p.start()
    _writer(9, 300)
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    files = sorted(tmp_path.glob("polycopy.log*"))
    files = [f for f in files if not f.name.endswith(".lock")]
    assert len(files) > 3  # it did rotate, several times
    seen = []
    for f in files:
        for raw in f.read_text().splitlines():
            seen.append(json.loads(raw)["msg"])  # every line is whole JSON: nothing interleaved
    expected = {f"line {n} {i} {'x' * 200}" for n in (0, 1, 2, 3, 9) for i in range(300)}
    assert len(seen) == len(expected) and set(seen) == expected
    capfd.readouterr()
