"""What a person sees, captured: `python -m bench.screens [--out screens/] [--seconds 75]` (`make screens`).

Runs `run.py --config <copy of config.yaml> --sim` in a 200x50 tmux pane, waits until copies
show on its console, then opens the live view in a second pane (`--sim`), captures both (text
with colours), writes the HTML report of the run's database, and screenshots the report and the
two captures (rendered as HTML) with headless Chromium. Writes into --out: console.txt,
console.png, live_view.txt, live_view.png, report.html, report.png. Everything runs on loopback
(polysim); the bot is stopped at the end. Needs tmux and chromium (`make sysdeps`).

`chromium_screenshot` is also what the report's browser test uses: it returns the page's console
messages (an uncaught error is one), so a page that throws fails that test.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.machine import free_port

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--enable-logging=stderr", "--v=0")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def chromium_screenshot(page: Path, png: Path, width: int = 1400, height: int = 2400, timeout_s: float = 90) -> list[str]:
    """Screenshot `page` into `png`; returns the page's console messages (empty = none)."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (make sysdeps)")
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                               f"--screenshot={png.resolve()}", Path(page).resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}")
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


class Pane:
    """One detached tmux session running a command, read with capture-pane."""

    def __init__(self, name: str, command: str, width: int = 200, height: int = 50):
        self.name = name
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), command],
                       check=True)

    def capture(self, colours: bool = False) -> str:
        args = ["tmux", "capture-pane", "-p", "-t", self.name] + (["-e"] if colours else [])
        return subprocess.run(args, capture_output=True, text=True).stdout

    def wait_for(self, predicate, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.capture()
            if predicate(text):
                return text
            time.sleep(0.5)
        raise TimeoutError(f"{self.name}: not seen in {timeout_s} s; the pane shows:\n{self.capture()}")

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def terminal_png(ansi: str, out: Path, title: str) -> None:
    """A captured pane (with its colours) as a PNG, through rich's HTML export and Chromium."""
    from rich.console import Console
    from rich.terminal_theme import MONOKAI
    from rich.text import Text

    console = Console(record=True, width=200, force_terminal=True, color_system="truecolor", file=open("/dev/null", "w"))
    console.print(Text.from_ansi(ansi))
    page = out.with_suffix(".html")
    page.write_text(console.export_html(theme=MONOKAI, inline_styles=True, code_format=TERMINAL_PAGE)
                    .replace("TITLE", title))
    chromium_screenshot(page, out, width=1700, height=1000)
    page.unlink()


TERMINAL_PAGE = ("<!doctype html><html><head><meta charset=utf-8><title>TITLE</title></head>"
                 "<body style='background:{background};color:{foreground};margin:12px'>"
                 "<pre style='font:13px/1.45 monospace'><code>{code}</code></pre></body></html>")


def sim_config(folder: Path) -> Path:
    """config.yaml with its state in `folder` and free ports (other runs may share this machine)."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["store"]["path"] = str(folder / "state" / "polycopy.sqlite")
    cfg["telemetry"].update(log_path=str(folder / "state" / "polycopy.log"), metrics_port=0)
    cfg["actors"]["admin_port"] = free_port()
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def capture(out: Path, seconds: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="screens-"))
    config = sim_config(work)
    tag = f"polycopy-screens-{int(time.time())}"
    bot = Pane(f"{tag}-bot", f"cd {REPO} && {PY} run.py --config {config} --sim; sleep 3600")
    view = None
    try:
        copies = lambda text: text.count("copied ") >= 3 and "·" in text  # noqa: E731 - named copies on screen
        bot.wait_for(copies, timeout_s=seconds)
        view = Pane(f"{tag}-view", f"cd {REPO} && {PY} -m polycopy.ops.live_view --config {config} --sim; sleep 3600")
        view.wait_for(lambda text: "recent copies" in text and "·" in text, timeout_s=30)
        time.sleep(6)  # a few more copies and a refreshed snapshot (positions are summed every 5 s)
        for name, pane in (("console", bot), ("live_view", view)):
            (out / f"{name}.txt").write_text(pane.capture())
            terminal_png(pane.capture(colours=True), out / f"{name}.png", name)
        view.keys("q")
        db = work / "state" / "sim" / "polycopy.sqlite"
        subprocess.run([PY, "-m", "polycopy.ops.report", "--db", str(db), "--html", str(out / "report.html")],
                       cwd=REPO, check=True)
        errors = chromium_screenshot(out / "report.html", out / "report.png")
        if errors:
            raise RuntimeError("the report page logged to its console:\n" + "\n".join(errors))
    finally:
        bot.keys("C-c")
        try:
            bot.wait_for(lambda text: "stopping" in text or "stopped" in text, timeout_s=30)
            time.sleep(5)  # the runner stops the actors and polysim
        except TimeoutError:
            pass
        for pane in (bot, view):
            if pane is not None:
                pane.close()
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(f"wrote {p}" for p in sorted(out.iterdir())))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.screens", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("screens"))
    p.add_argument("--seconds", type=float, default=90, help="how long to wait for the first copies")
    args = p.parse_args(argv)
    for tool in ("tmux", "chromium"):
        if (chromium() if tool == "chromium" else shutil.which(tool)) is None:
            print(f"{tool} is missing: `make sysdeps` (or apt-get install {tool})", file=sys.stderr)
            return 2
    capture(args.out, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
