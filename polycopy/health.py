"""Preflight checks (`run.py --healthcheck`): one line per check, exit 0 only if all pass."""
from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import requests

from polycopy.config import Config, Secrets, required_secrets_missing

MAX_SKEW_S = 5.0
TIMEOUT_S = 3.0


def check_secrets(cfg: Config, secrets: Secrets) -> tuple[bool, str]:
    missing = required_secrets_missing(cfg.mode, secrets)
    if missing:
        return False, f"{cfg.mode.value} mode needs {', '.join(missing)} in the environment"
    return True, f"secrets present for {cfg.mode.value} mode"


def check_http(name: str, url: str, path: str) -> tuple[bool, str]:
    try:
        r = requests.get(url.rstrip("/") + path, timeout=TIMEOUT_S)
    except requests.RequestException as e:
        return False, f"{name} unreachable at {url}: {type(e).__name__}"
    if r.status_code >= 500:
        return False, f"{name} at {url} answered {r.status_code}"
    return True, f"{name} reachable ({r.status_code})"


def check_tcp(name: str, url: str) -> tuple[bool, str]:
    u = urlparse(url)
    port = u.port or (443 if u.scheme in ("wss", "https") else 80)
    try:
        with socket.create_connection((u.hostname, port), timeout=TIMEOUT_S):
            return True, f"{name} reachable"
    except OSError as e:
        return False, f"{name} unreachable at {url}: {e.strerror or type(e).__name__}"


def check_clock(cfg: Config) -> tuple[bool, str]:
    try:
        t0 = time.time()
        server = float(requests.get(cfg.venue.clob_url.rstrip("/") + "/time", timeout=TIMEOUT_S).text)
        local = (t0 + time.time()) / 2
    except (requests.RequestException, ValueError) as e:
        return False, f"clock: cannot read the CLOB server time: {type(e).__name__}"
    skew = local - server
    if abs(skew) > MAX_SKEW_S:
        return False, f"clock skewed by {skew:+.1f} s against the CLOB (limit {MAX_SKEW_S} s): fix NTP; signed requests will be refused"
    return True, f"clock skew {skew:+.2f} s"


def run_checks(cfg: Config, secrets: Secrets) -> list[tuple[bool, str]]:
    v = cfg.venue
    return [
        check_secrets(cfg, secrets),
        check_http("CLOB", v.clob_url, "/time"),
        check_http("Data API", v.data_api_url, "/trades?limit=1"),
        check_http("Gamma", v.gamma_url, "/markets?limit=1"),
        check_tcp("RTDS", v.rtds_url),
        check_tcp("CLOB market websocket", v.clob_ws_market_url),
        check_tcp("CLOB user websocket", v.clob_ws_user_url),
        check_clock(cfg),
    ]


def healthcheck(cfg: Config, secrets: Secrets) -> int:
    results = run_checks(cfg, secrets)
    for ok, line in results:
        print(f"{'ok  ' if ok else 'FAIL'} {line}")
    return 0 if all(ok for ok, _ in results) else 1
