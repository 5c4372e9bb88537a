"""python -m bench.profile [--seconds 30] [--actors executor,intake,risk,rtds]

Runs the latency scenario (fast feed, fill by fill) and samples the named actor processes with
py-spy (`pip install py-spy==0.4.1`) while fills flow. Writes the collapsed stacks to
bench/results/profile/<actor>.txt.gz and a summary (busy share, top functions by inclusive and by
self samples) to bench/results/profile.json.
"""
from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.machine import RESULTS, write_result
from bench.runs import FEED_MODELS, scenario_variant
from bench.system import PATIENT, BenchSystem

IDLE = ("select", "poll", "epoll", "_run_once", "wait", "recv_into", "accept")
AREAS = {  # name -> substring of a frame: a busy sample counts for every area its stack touches
    "thespian_send": "_next_XMIT", "thespian_receive": "_addedDataToIncoming", "lane": "polycopy/lane/",
    "logging": "loguru",
    "log_sinks": "logs.py", "sqlite": ("sqlite_utils", "store/fills.py", "fills.py", "journal.py", "exposure.py"),
    "signing": "sign_typed_data", "http": "urllib3",
}


def py_spy() -> str:
    exe = shutil.which("py-spy") or str(Path(__import__("sys").executable).parent / "py-spy")
    if not Path(exe).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy==0.4.1")
    return exe


def summarise(collapsed: Path, top: int = 15) -> dict:
    """Inclusive and self sample counts per function from py-spy's raw (collapsed) output."""
    incl, self_, areas, total, idle = Counter(), Counter(), Counter(), 0, 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        n = int(n)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("/")[-1] + ")" if " (" in f else f
                  for f in stack.split(";")]
        total += n
        if frames and any(frames[-1].startswith(w) for w in IDLE):
            idle += n
            continue
        for f in set(frames):
            incl[f] += n
        self_[frames[-1]] += n
        for area, needles in AREAS.items():
            if any(x in stack for x in ((needles,) if isinstance(needles, str) else needles)):
                areas[area] += n
        # a forked actor's stack starts inside its parent's handler: look below the fork only
        child = max((i for i, f in enumerate(frames) if f.startswith("startChild")), default=-1)
        handler = next((f for f in reversed(frames[child + 1:]) if f.startswith(("receiveMsg_", "receiveBatch_"))),
                       None)
        areas["handler " + handler.split(" (")[0] if handler else "outside handlers (transport loop)"] += n
    busy = total - idle
    pct = lambda c: round(100 * c / busy, 1) if busy else 0.0  # noqa: E731
    return {"samples": total, "busy_share_pct": round(100 * busy / total, 1) if total else 0.0,
            "areas_pct_of_busy": {a: pct(c) for a, c in areas.most_common()},
            "top_inclusive_pct_of_busy": {f: pct(c) for f, c in incl.most_common(top)},
            "top_self_pct_of_busy": {f: pct(c) for f, c in self_.most_common(top)}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--actors", default="executor,intake,risk,rtds,telemetry")
    p.add_argument("--model", default="fast", choices=list(FEED_MODELS))
    p.add_argument("--copy-mode", default="fill_by_fill", choices=["fill_by_fill", "intent_net"])
    p.add_argument("--scenario", default="latency", choices=["latency", "burst"],
                   help="bench/scenarios/<name>.yaml (burst: 200 fills/s from 10 s)")
    p.add_argument("--tag", default="", help="writes profile[_burst]_<tag>.json and its folder (e.g. an interim run)")
    args = p.parse_args(argv)
    exe = py_spy()
    name = "_".join(["profile", *filter(None, ("" if args.scenario == "latency" else args.scenario, args.tag))])
    out_dir = RESULTS / name
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    feeds = FEED_MODELS[args.model] if args.scenario == "latency" else None
    scenario = scenario_variant(args.scenario, tmp, feeds)
    summary = {}
    overrides = {"copy": {"copy_mode": args.copy_mode}, "execution": {"max_slippage_bps": 5000}, **PATIENT}
    with BenchSystem(scenario, overrides, name="profile") as bs:
        bs.wait_ready()
        while bs.control("GET", "/health")["t"] < 12:  # the fills start at 8-10 s
            time.sleep(0.5)
        bs.status()
        procs = {}
        for actor in args.actors.split(","):
            pid = bs.pids.get(actor)
            if pid is None:
                print(f"no pid for {actor}; known: {sorted(bs.pids)}")
                continue
            procs[actor] = subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(args.seconds),
                                             "--rate", "250", "--format", "raw", "--nonblocking",
                                             "--output", str(out_dir / f"{actor}.txt")],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for actor, proc in procs.items():
            proc.wait(args.seconds + 60)
    for actor in procs:
        path = out_dir / f"{actor}.txt"
        if path.exists():
            summary[actor] = summarise(path)
            with open(path, "rb") as src, gzip.open(f"{path}.gz", "wb") as dst:  # ~10x smaller in the repo
                shutil.copyfileobj(src, dst)
            path.unlink()
    write_result(name, {"seconds": args.seconds, "model": args.model, "copy_mode": args.copy_mode,
                             "scenario": f"bench/scenarios/{args.scenario}.yaml", "actors": summary,
                             "collapsed_stacks": f"bench/results/{out_dir.name}/<actor>.txt.gz"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
