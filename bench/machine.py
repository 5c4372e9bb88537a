"""What every benchmark result carries: the machine, quantiles, and writing the JSON."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import socket
from pathlib import Path

import psutil

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "mem_total_mb": round(psutil.virtual_memory().total / 2**20),
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
            "lane": "off" if os.environ.get("POLYCOPY_LANE", "on").strip().lower() in ("off", "0", "false", "no")
            else "on",  # the hot path's transport in the system under test (bench/README.md)
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def quantiles(values) -> dict:
    """{"p50","p95","p99","max","n"} in the unit given (nearest-rank, rounded to 0.001)."""
    vals = sorted(values)
    if not vals:
        return {"p50": None, "p95": None, "p99": None, "max": None, "n": 0}

    def q(p: float) -> float:
        return round(vals[min(len(vals) - 1, int(p * len(vals)))], 3)

    return {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99), "max": round(vals[-1], 3), "n": len(vals)}


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {**data, "machine": machine()}
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    print(f"wrote {path}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
