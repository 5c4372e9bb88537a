"""python -m polycopy.sim [--scenario FILE] [--endpoints-out FILE.json] [--port-base N]

Starts every polysim service on 127.0.0.1, writes the endpoints (atomically) once all are
listening, and runs until SIGTERM or SIGINT, then exits 0.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from polycopy.sim.scenario import ScenarioError, load


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m polycopy.sim", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--scenario", help="scenario YAML (default: the packaged default)")
    parser.add_argument("--endpoints-out", type=Path, help="write the endpoints JSON here")
    parser.add_argument("--port-base", type=int, help="first of six consecutive ports")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s polysim %(message)s")
    try:
        scenario = load(args.scenario)
    except ScenarioError as exc:
        print(f"polysim: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from polycopy.sim.server import Polysim  # slow import (the venue loads the SDK)

    sim = Polysim(scenario, port_base=args.port_base)
    try:
        endpoints = sim.start()
    except RuntimeError as exc:
        print(f"polysim: {exc}", file=sys.stderr)
        return 1
    try:
        text = json.dumps(endpoints, indent=2)
        if args.endpoints_out:
            write_atomic(args.endpoints_out, text + "\n")
        print(text, flush=True)
        while not stop.wait(0.5):
            pass
        logging.info("stopping")
    finally:
        sim.stop()
    logging.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
