"""python -m polycopy.sim [--scenario FILE] [--replay FILE] [--endpoints-out FILE.json] [--port-base N]
                         [--serve-retired]

Starts every polysim service on 127.0.0.1, writes the endpoints (atomically) once all are
listening, and runs until SIGTERM or SIGINT, then exits 0. `--replay FILE` plays a
`run.py --record` file moved to now (replay.py); without `--scenario` nothing else trades
but the usual noise of other wallets. `--serve-retired` serves the Data API v1 and Gamma list
routes again (as `legacy:` in a scenario does), for a bot or recording that still uses them.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from polycopy.sim.scenario import LegacySpec, ScenarioError, load, parse

REPLAY_DELAY_S = 2.0  # --replay: after the bot's RTDS socket connects, so its other actors are up too
_WALLET = re.compile(r'proxyWallet\\?"\s*:\s*\\?"(0x[0-9a-fA-F]{40})')


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def replay_scenario(path: Path):
    """Nothing but the recording and noise; the source wallet is the one most recorded."""
    wallets = Counter()
    try:
        for line in path.read_text().splitlines():
            wallets.update(w.lower() for w in _WALLET.findall(line))
    except OSError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    source = {"wallet": wallets.most_common(1)[0][0]} if wallets else {}
    return parse({"name": f"replay of {path.name}", "source": source}, str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m polycopy.sim", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--scenario", help="scenario YAML (default: the packaged default)")
    parser.add_argument("--endpoints-out", type=Path, help="write the endpoints JSON here")
    parser.add_argument("--replay", type=Path, help="replay this recording (run.py --record), moved to now")
    parser.add_argument("--port-base", type=int, help="first of eight consecutive ports")
    parser.add_argument("--serve-retired", action="store_true",
                        help="serve the retired Data API v1 and Gamma list routes again")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s polysim %(message)s")
    try:
        scenario = load(args.scenario) if args.scenario or not args.replay else replay_scenario(args.replay)
        if args.replay:
            scenario = scenario.model_copy(update={"replay": str(args.replay), "replay_shift": True,
                                                   "replay_delay_s": scenario.replay_delay_s or REPLAY_DELAY_S})
    except ScenarioError as exc:
        print(f"polysim: {exc}", file=sys.stderr)
        return 2
    if args.serve_retired:
        scenario = scenario.model_copy(update={
            "legacy": LegacySpec(data_api_v1=True, gamma_lists=True)})
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
