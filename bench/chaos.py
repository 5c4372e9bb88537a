"""python -m bench.chaos [--minutes 10] [--kill-every-s 20] [--tree-restarts N] [--seed 7]

A long bursty run against polysim while the bot is hurt: random actor processes (intake, a
coalescer, risk, executor, the watchers, catalog, telemetry, reconciler) are SIGKILLed and left
to the supervisor, and a few times the whole tree (run.py, its admin and every actor) is
SIGKILLed and run.py started again on the same state folder. Throughout, polysim plays the
scenario's faults: a share of RTDS frames delivered twice and windows of every frame twice,
malformed frames (a share, and windows of many) and hostile Data API rows, venue 429/503 windows
and dropped POST answers, Data API 429/503 windows, RTDS stalls and drops.

The scenario (generated, written to the run dir): 15-minute series markets (btc, eth) rolling on
the wall clock, and a compressed market every minute (as bench.soak); every 10 s a burst of
clusters of 2-5 fills, one to three per transaction, some identical within their transaction,
some with the source as maker. Copies fill by fill by default (each fill maps to one intent).

Figures (bench/chaos_count.py says how each is counted): copied / eligible by fill and by size,
fills refused by policy and fills stale at a restart (apart), duplicate orders, overfill against
the source, kill-switch trips, restarts by actor (what we killed and what the supervisor
restarted), malformed inputs counted by the bot and sent by polysim, the machine. Writes
bench/results/chaos.json. Longer than 250 lines because the run loop, the scenario and the
report are one procedure; the counting is in chaos_count.py.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import requests
import yaml
from eth_account import Account

from bench import chaos_count as cc
from bench.machine import write_result
from bench.system import SIM_TEST_KEY, BenchSystem
from polycopy.sim.hostile import ROW_KINDS

# As bench.soak: slippage wide enough that every copy can fill against polysim's book, and no latency
# kill (this box's load must not stop copying). No per-order cap either: with it a burst's netted
# order (intent_net) is cut to 25 USD by policy, and holdings could not be compared with the source's.
OVERRIDES = {"copy": {"copy_mode": "fill_by_fill"}, "execution": {"max_slippage_bps": 5000},
             "risk": {"kill_p95_internal_ms": 600000}, "sizing": {"max_notional_per_order_usd": 100000}}
START_S, ROLL_S, BURST_EVERY_S = 8.0, 60, 10.0
KILLABLE = ("intake", "coalescer", "risk", "executor", "rtds", "backstop", "catalog", "telemetry", "reconciler")
# (kind, every_s, first_at_s, extra): repeated until 25 s before the end
FAULTS = (("rtds_duplicate", 90, 25, {"for_s": 20, "value": 1}),
          ("rtds_malformed", 75, 35, {"for_s": 10, "value": 0.3}),
          ("rtds_drop", 50, 30, {}), ("rtds_stall", 80, 45, {"for_s": 8}),
          ("venue_429", 45, 40, {"for_s": 4, "value": 1}), ("venue_503", 60, 55, {"for_s": 5}),
          ("venue_drop_post_response", 65, 50, {"for_s": 2}),
          ("data_api_429", 70, 30, {"for_s": 6}), ("data_api_503", 85, 65, {"for_s": 5}))
STATUS_EVERY_S = 5.0
RESTART_SEC = 5.0  # deploy/polycopy.service
FAILURE_WINDOW_S, MAX_KILLS_PER_WINDOW = 60.0, 3  # the shipped kill switch trips at 5 child failures in 60 s


def scenario(minutes: float, seed: int = 7) -> dict:
    total = START_S + minutes * 60
    markets, bursts, faults = [], [], []
    for k in range(int(total // ROLL_S) + 1):
        markets.append({"slug": f"chaos-roll-{k:03d}", "question": f"Roll {k}?", "outcomes": ["Up", "Down"],
                        "end_in_s": (k + 1) * ROLL_S + 120})
    at, i = START_S, 0
    while at < total:
        market = ("btc", f"chaos-roll-{int(at // ROLL_S):03d}", "eth")[i % 3]
        bursts.append({"at_s": round(at, 2), "market": market, "outcome": ("Up", "Down")[(i // 3) % 2], "clusters": 4,
                       "fills_per_cluster": [2, 5], "price": ["0.47", "0.53"], "size": ["5", "15"],
                       "maker_share": 0.3, "identical_share": 0.15})
        at, i = at + BURST_EVERY_S, i + 1
    for kind, every, first, extra in FAULTS:
        t = first
        while t < total - 25:
            faults.append({"at_s": t, "kind": kind, **extra})
            t += every
    return {"name": "bench-chaos", "seed": seed, "source": {"wallet": "0x1d0034134e339a309700ff2d34e99fa2d48b0313"},
            "series": [{"asset": "btc", "title": "Bitcoin"}, {"asset": "eth", "title": "Ethereum"}],
            "markets": markets, "default_book": {"mid": "0.50", "spread": "0.02", "levels": 8, "size": "1000000"},
            "accounts": [{"address": account(), "pusd": "100000000"}],
            "feeds": {"rtds_lag_ms": {"orders_matched": 1900, "trades": 2300}, "data_api_lag_ms": 5000,
                      "noise_per_s": 3, "data_api_cache_s": 300, "odd_outcome_index_share": 0.02,
                      "rtds_duplicate_share": 0.05, "rtds_malformed_share": 0.01, "data_api_hostile": list(ROW_KINDS)},
            "bursts": bursts, "faults": sorted(faults, key=lambda f: f["at_s"])}


def account() -> str:
    return Account.from_key(SIM_TEST_KEY).address


def kill_plan(rng: random.Random, t0: float, t1: float, every_s: float, tree_restarts: int) -> list:
    """[(t, "actor" | "tree")] over [t0, t1]: whole-tree kills evenly spaced, actor kills every
    ~every_s (+-30 %), never more than MAX_KILLS_PER_WINDOW in FAILURE_WINDOW_S (each is a child
    failure to the supervisor) and none within 20 s after a tree kill (it is starting again)."""
    trees = [t0 + (t1 - t0) * (i + 1) / (tree_restarts + 1) for i in range(tree_restarts)]
    plan, t = [(x, "tree") for x in trees], t0
    kills: list[float] = []
    while True:
        t += every_s * rng.uniform(0.7, 1.3)
        if t >= t1:
            break
        if any(x - 10 <= t <= x + 20 for x in trees):
            continue
        if sum(1 for k in kills if k > t - FAILURE_WINDOW_S) >= MAX_KILLS_PER_WINDOW:
            continue
        kills.append(t)
        plan.append((t, "actor"))
    return sorted(plan)


class Chaos:
    """Carries out the kill plan against a running BenchSystem and samples its status."""

    def __init__(self, bs: BenchSystem, rng: random.Random, targets: tuple = KILLABLE):
        self.bs, self.rng, self.targets = bs, rng, targets
        self.killed: Counter = Counter()  # role -> SIGKILLs we sent
        self.trees: list[dict] = []  # each whole-tree kill: when, processes, seconds until ready again
        self.counters: dict[str, cc.ResettingCounter] = {}
        self.last_status: dict | None = None
        self.kill_switch_seen = False
        self.kill_times: list[float] = []  # monotonic times of our actor kills

    def sample(self) -> None:
        st = self.bs.status()
        if not st:
            return
        self.last_status = st
        self.kill_switch_seen |= bool(st.get("kill_switch", {}).get("tripped"))
        for feed, f in ((st.get("telemetry") or {}).get("feeds") or {}).items():
            for name in ("malformed", "invalid"):
                if isinstance(f.get(name), int):
                    self.counters.setdefault(f"{feed}.{name}", cc.ResettingCounter()).sample(f[name])

    def kill_actor(self, t: float) -> str | None:
        now = time.monotonic()
        if sum(1 for k in self.kill_times if k > now - FAILURE_WINDOW_S) >= MAX_KILLS_PER_WINDOW:
            return None  # late kills bunched up: keep under the kill switch's threshold
        kids = (self.last_status or {}).get("children", {})
        alive = {n: c["pid"] for n, c in kids.items() if c.get("alive") and c.get("pid")}
        roles = [r for r in self.targets if any(n.split(":")[0] == r for n in alive)]
        if not roles:
            return None
        role = self.rng.choice(roles)
        name = self.rng.choice(sorted(n for n in alive if n.split(":")[0] == role))
        if not self.bs.is_ours(alive[name]):
            return None
        try:
            os.kill(alive[name], signal.SIGKILL)
        except OSError:
            return None
        self.killed[role] += 1
        self.kill_times.append(now)
        print(f"[chaos t={t:.0f}s] SIGKILL {name} (pid {alive[name]})", flush=True)
        return name

    def kill_tree(self, t: float) -> None:
        start = time.monotonic()
        n = self.bs.kill_tree()
        for c in self.counters.values():
            c.end_of_life()
        print(f"[chaos t={t:.0f}s] SIGKILL the whole tree ({n} processes); starting run.py again", flush=True)
        starts = self.start_like_systemd(deadline=start + 240)
        self.trees.append({"at_s": round(t, 1), "processes": n, "down_s": round(time.monotonic() - start, 1),
                           "starts": starts})
        self.last_status = None

    def start_like_systemd(self, deadline: float) -> list[str]:
        """run.py again until it is up, as deploy/polycopy.service does (Restart=on-failure,
        RestartSec=5): a live start refuses while a preflight check fails (e.g. inside a Data API
        503 window). Returns how each failed attempt ended."""
        failed = []
        while True:
            self.bs.start_bot()
            try:
                self.bs.wait_ready(timeout_s=max(10.0, deadline - time.monotonic()))
                return failed
            except RuntimeError:
                if self.bs.bot.poll() is None or time.monotonic() > deadline:
                    raise
                failed.append(f"exit {self.bs.bot.returncode}: {_last_error(self.bs.dir / 'run.out')}")
                print(f"[chaos] run.py exited {self.bs.bot.returncode}; again in {RESTART_SEC} s", flush=True)
                time.sleep(RESTART_SEC)


def _last_error(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if " ERROR " in line]
    return lines[-1].split(" ERROR ", 1)[1].strip()[:160] if lines else "?"


def sim_t(bs: BenchSystem) -> float:
    return bs.control("GET", "/health")["t"]


def run(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    sc = scenario(args.minutes, args.seed)
    path = tmp / "chaos.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    overrides = {**OVERRIDES, "copy": {"copy_mode": args.copy_mode}}
    rng = random.Random(args.seed)
    total = START_S + args.minutes * 60
    with BenchSystem(path, overrides, name="chaos") as bs:
        bs.wait_ready(timeout_s=120)
        since_ns = bs.ready_mono_ns + 2_000_000_000
        chaos = Chaos(bs, rng, tuple(args.targets.split(",")))
        t_ready = sim_t(bs)
        plan = kill_plan(rng, t_ready + 10, total - 25, args.kill_every_s, args.tree_restarts)
        next_status = 0.0
        while (t := sim_t(bs)) < total:
            if plan and plan[0][0] <= t:
                _, what = plan.pop(0)
                if what == "tree":
                    chaos.kill_tree(t)
                    settled = sim_t(bs) + 15  # the kills that fell due while it started again are skipped
                    plan = [(x, w) for x, w in plan if w == "tree" or x >= settled]
                else:
                    chaos.kill_actor(t)
            if time.monotonic() >= next_status:
                chaos.sample()
                next_status = time.monotonic() + STATUS_EVERY_S
            time.sleep(0.5)
        until_ns = time.monotonic_ns()
        deadline = time.monotonic() + args.tail_s  # repeats wait for the backstop, parked copies for the window's end
        while time.monotonic() < deadline:
            chaos.sample()
            time.sleep(STATUS_EVERY_S)
        final_status = bs.status() or chaos.last_status or {}
        bs.stop_bot()
        holdings = bs.control("POST", "/accounts", {"address": account()})["positions"]
        stats = bs.stats()
    records = bs.records()
    t = cc.Tables(source=records["source_fills"],
                  posts=[r for r in records["clob"] if r["method"] == "POST" and r["path"] == "/order"],
                  holdings=holdings, fills=bs.db_rows("SELECT key, status, feed FROM fills"),
                  decisions=bs.db_rows("SELECT intent_id, decision, reason, fill_keys FROM decisions"),
                  intents=bs.db_rows("SELECT intent_id, state, reason FROM exec_intents"),
                  orders=bs.db_rows("SELECT order_id, intent_id, state, reason FROM exec_orders"))
    log_records = bs.log_records()
    t.outcomes = executor_outcomes(log_records)
    logs = log_figures(log_records)
    ratio = sizing_ratio(bs.config())
    figures = cc.copy_figures(t, since_ns, until_ns)
    dups = cc.duplicates(t)
    over = cc.overfill(t, ratio) if ratio is not None else None
    n_dups = sum(v for v in dups.values() if isinstance(v, int))
    target = {"run_ge_10_min": args.minutes >= 10, "duplicates_0": n_dups == 0,
              "overfill_0": over is not None and Decimal(over["overfill_shares"]) == 0,
              "copied_by_fill_ge_98_pct": (figures["copied_pct_by_fill"] or 0) >= 98}
    return {
        "issue_target": {**target, "met": all(target.values())}, **figures,
        "duplicates": n_dups, "duplicates_detail": dups,
        "overfill": over if over is not None else "not defined for fixed sizing",
        "sizing_ratio": str(ratio), "orders_not_for_fills": cc.orders_not_for_fills(t),
        "kill_switch_trips": logs["kill_switch_trips"],
        "kill_switch_tripped_at_end": bool(final_status.get("kill_switch", {}).get("tripped")),
        "kill_switch_seen_tripped_in_a_status": chaos.kill_switch_seen,
        "risk_rejections": dict(Counter(f"{d['decision']}:{d['reason']}" for d in t.decisions
                                        if d["decision"] != "approved")),
        "killed_by_us": dict(chaos.killed), "tree_restarts": chaos.trees,
        "restarts_by_actor": logs["restarts_by_actor"], "hung_kills_by_actor": logs["hung_by_actor"],
        "dead_letters": logs["dead_letters"], "errors_by_actor": logs["errors_by_actor"],
        "malformed_counted_by_bot": {k: c.total for k, c in sorted(chaos.counters.items())},
        "hostile_frames_sent_by_polysim": stats.get("hostile_frames_sent", {}),  # also while no socket listened
        "hostile_rows_served_per_poll": list(ROW_KINDS),
        "fills_status": dict(Counter(r["status"] for r in t.fills)),
        "intent_states": dict(Counter(f"{r['state']}:{r['reason']}" for r in t.intents)),
        "minutes": args.minutes, "kill_every_s": args.kill_every_s, "targets": args.targets, "seed": args.seed,
        "copy_mode": args.copy_mode,
        "window": "source fills scheduled from 2 s after the first ready to the scenario's end",
        "tail_s": args.tail_s, "faults": [f"{f['at_s']}s {f['kind']}" for f in sc["faults"]],
        "scenario": "generated by bench/chaos.py (written to the run dir)", "config_overrides": bs.overrides,
        "run_dir": str(bs.dir)}


def sizing_ratio(cfg: dict) -> Decimal | None:
    s = cfg["sizing"]
    return Decimal(str(s["size_multiplier"])) if s["mode"] in ("proportional", "capped_proportional") else None


OUTCOME_RE = re.compile(r"^intent (\w+) -> (\w+) \S+ \((\w*)\)$")


def executor_outcomes(records: list[dict]) -> dict:
    """Intent id -> "status:reason" of the executor's last logged outcome for it."""
    out = {}
    for rec in records:
        if rec.get("actor") == "executor" and (m := OUTCOME_RE.match(rec["msg"])):
            out[m.group(1)] = f"{m.group(2)}:{m.group(3)}"
    return out


RESTART_RE = re.compile(r"^(\S+) exited; restart #\d+")
HUNG_RE = re.compile(r"^(\S+) \(pid \d+\) silent for")
DEAD_RE = re.compile(r"^dropped dead letter (\w+)")


def log_figures(records: list[dict]) -> dict:
    """Kill-switch trips, restarts and hung kills by actor, dead letters by message, errors by actor."""
    restarts, hung, dead, errors, trips = Counter(), Counter(), Counter(), Counter(), []
    for rec in records:
        msg, actor = rec["msg"], rec.get("actor")
        if actor == "supervisor":
            if m := RESTART_RE.match(msg):
                restarts[m.group(1).split(":")[0]] += 1
            elif m := HUNG_RE.match(msg):
                hung[m.group(1).split(":")[0]] += 1
            elif m := DEAD_RE.match(msg):
                dead[m.group(1)] += 1
            elif msg.startswith("kill switch TRIPPED"):
                trips.append({"ts": rec.get("ts"), "reason": msg.split(": ", 1)[-1][:200]})
        if rec.get("level") in ("ERROR", "CRITICAL"):
            errors[f"{actor}: {msg[:90]}"] += 1
    return {"restarts_by_actor": dict(restarts), "hung_by_actor": dict(hung), "dead_letters": dict(dead),
            "kill_switch_trips": trips, "errors_by_actor": dict(errors.most_common(25))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--kill-every-s", type=float, default=20.0, help="mean seconds between actor kills")
    p.add_argument("--tree-restarts", type=int, default=None, help="whole-tree kills (default: one per ~3.3 min, >= 1)")
    p.add_argument("--tail-s", type=float, default=40.0, help="seconds after the scenario's end before stopping")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--copy-mode", choices=("fill_by_fill", "intent_net"), default="fill_by_fill")
    p.add_argument("--targets", default=",".join(KILLABLE), help="the actor roles to kill, comma-separated")
    p.add_argument("--name", default="chaos", help="result name (bench/results/<name>.json)")
    args = p.parse_args(argv)
    if args.tree_restarts is None:
        args.tree_restarts = max(1, round(args.minutes / 3.3))
    try:
        result = run(args)
    except requests.RequestException as e:
        print(f"polysim stopped answering: {e}")
        return 1
    write_result(args.name, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
