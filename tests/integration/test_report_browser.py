"""The HTML report (ops/report_html.py) in a real headless Chromium: a screenshot renders and the page
logs nothing to its console. Skipped, with the reason, where Chromium is not installed."""
from __future__ import annotations

import re
import struct

import pytest

from bench.screens import chromium, chromium_screenshot
from polycopy.ops import report
from tests.unit.run_db import BTC_UP, make_run_db

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(chromium() is None, reason="chromium not installed (make sysdeps installs Debian's)")]


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def page(tmp_path):
    make_run_db(tmp_path / "polycopy.sqlite")
    (tmp_path / "resolutions.yaml").write_text(f"'{BTC_UP}': 1\n")
    out = tmp_path / "report.html"
    assert report.main(["--db", str(tmp_path / "polycopy.sqlite"), "--html", str(out),
                        "--resolutions", str(tmp_path / "resolutions.yaml")]) == 0
    return out


def test_the_page_is_self_contained_and_names_markets(page):
    text = page.read_text()
    assert text.count("<svg") == 6  # delay, latency, gap, outcomes over time, feed lag, PnL
    assert "<script" not in text  # no script at all: nothing to fail, nothing to fetch
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)  # nothing fetched at view time
    assert "BTC Up · 8:30–8:45 PM ET" in text and BTC_UP not in text
    assert "not_sent beyond_slippage" in text and "rejected cap_daily" in text


def test_chromium_renders_it_without_console_messages(page, tmp_path):
    png = tmp_path / "report.png"
    console = chromium_screenshot(page, png, width=1400, height=1600)
    assert console == []
    assert png_size(png) == (1400, 1600)
    assert png.stat().st_size > 60_000  # charts and tables, not a blank page (a blank one is a few KiB)


def test_a_page_that_throws_is_caught(tmp_path):
    """The check above can fail: an uncaught error in a page shows in what chromium_screenshot returns."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><p>x</p><script>undefinedFunction()</script>")
    console = chromium_screenshot(bad, tmp_path / "bad.png", width=400, height=300)
    assert any("Uncaught ReferenceError" in line for line in console)
