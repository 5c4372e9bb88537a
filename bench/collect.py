"""Joins what polysim recorded (source fill times, CLOB request arrivals) with what the bot stored
(fills table, order journal) and logged (coalescer intents, StageTiming), all on the one
CLOCK_MONOTONIC of this machine.

Per copied fill:  detection lag = bot receipt - source fill time
                  copy delay    = the order's POST arrival at polysim - source fill time
Per order:        internal      = POST arrival - receipt of the fill that triggered it
                  (leading / fill-by-fill intents; a trailing intent waits for its horizon by policy)
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from polycopy.policy.coalesce import intent_id_for

INTENT_RE = re.compile(r"^(\w+) intent (\w+) (BUY|SELL) \S+ @ \S+ covers (\d+) fills \(first (.+)\)$")


def norm_key(key: str) -> str:
    """polysim writes tx:token:side:price:size:occ, the bot tx|token|side|price|size|occ."""
    parts = key.split("|") if "|" in key else key.split(":")
    tx, token, side, price, size, occ = parts
    return "|".join((tx.lower(), token, side.upper(), _num(price), _num(size), occ))


def _num(text: str) -> str:
    d = Decimal(text).normalize()
    return format(d, "f")


@dataclass
class Run:
    source: dict = field(default_factory=dict)  # norm key -> polysim record
    bot_fills: dict = field(default_factory=dict)  # norm key -> fills row (+ "key")
    posts: dict = field(default_factory=dict)  # order id -> first POST /order record
    post_list: list = field(default_factory=list)  # every POST /order record of the bot
    orders: dict = field(default_factory=dict)  # intent id -> exec_orders row
    intents: dict = field(default_factory=dict)  # intent id -> {"reason", "n", "first", "ts"}
    stages: dict = field(default_factory=lambda: defaultdict(dict))  # corr -> {stage: ms after recv}
    other_fills: dict = field(default_factory=dict)  # feed -> rows stored under another key shape
    pending: dict = field(default_factory=dict)  # the mempool's provisional rows, by their own key


def gather(bs, bot_api_keys: set | None = None) -> Run:
    """Read everything after the bot has stopped (the journal and logs are complete)."""
    recs = bs.records()
    run = Run()
    for r in recs["source_fills"]:
        run.source[norm_key(r["fill_key"])] = r
    for row in bs.db_rows("SELECT key, recv_mono_ns, feed, status, token_id FROM fills"):
        if row["key"].count("|") != 5:  # the mempool's provisional "pending|<order hash>|<amount>" rows
            run.other_fills[row["feed"]] = run.other_fills.get(row["feed"], 0) + 1
            run.pending[row["key"]] = row
            continue
        run.bot_fills[norm_key(row["key"])] = row
    for row in bs.db_rows("SELECT * FROM exec_orders"):
        run.orders[row["intent_id"]] = row
    mine = {o["order_id"] for o in run.orders.values()}
    for r in recs["clob"]:
        if r["method"] == "POST" and r["path"] == "/order" and r.get("order_id") in mine:
            run.post_list.append(r)
            run.posts.setdefault(r["order_id"], r)
    for rec in bs.log_records():
        actor, msg = rec.get("actor"), rec["msg"]
        if actor == "coalescer":
            m = INTENT_RE.match(msg)
            if m:
                run.intents[m.group(2)] = {"reason": m.group(1), "n": int(m.group(4)), "first": m.group(5),
                                           "ts": rec["ts"]}
        elif actor == "telemetry" and isinstance(rec.get("stages_ms"), dict):
            run.stages[rec.get("corr", "")].update(rec["stages_ms"])  # ms after the fill's receipt
    return run


def log_counts(bs, actor: str, pattern: str, label) -> Counter:
    """Counts of `label(match)` over the actor's log lines that match `pattern`."""
    out = Counter()
    for rec in bs.log_records():
        if rec.get("actor") == actor:
            m = re.search(pattern, rec["msg"])
            if m:
                out[label(m)] += 1
    return out


def bot_row(run: Run, key: str) -> dict | None:
    """The bot's fills row for a key as logged (a settled fill's key, or a provisional one's)."""
    return run.pending.get(key) if key.startswith("pending|") else run.bot_fills.get(norm_key(key))


def post_ns(run: Run, intent_id: str) -> int | None:
    o = run.orders.get(intent_id)
    p = run.posts.get(o["order_id"]) if o else None
    return p["recv_mono_ns"] if p else None


def per_fill(run: Run, since_ns: int = 0, until_ns: int | None = None) -> list[dict]:
    """One row per source fill scheduled in [since, until]: its times through the bot (fill-by-fill
    intents map a fill to its order exactly: intent id = hash of the one fill key)."""
    rows = []
    for k, src in run.source.items():
        sched = src["sched_mono_ns"]
        if sched < since_ns or (until_ns is not None and sched > until_ns):
            continue
        bot = run.bot_fills.get(k)
        row = {"key": k, "sched_ns": sched, "token": src["token_id"], "recv_ns": None, "feed": None, "post_ns": None}
        if bot:
            row["recv_ns"], row["feed"] = bot["recv_mono_ns"], bot["feed"]
            row["post_ns"] = post_ns(run, intent_id_for((bot["key"],)))
        rows.append(row)
    return rows


def internal_samples(run: Run, reasons=("leading", "fill")) -> list[float]:
    """ms from the receipt of an intent's first fill to its POST arriving at polysim."""
    out = []
    for iid, it in run.intents.items():
        if it["reason"] not in reasons:
            continue
        bot = bot_row(run, it["first"])
        p = post_ns(run, iid)
        if bot and p:
            out.append((p - bot["recv_mono_ns"]) / 1e6)
    return out


# live segments: (name, from stage, to stage); "recv" = 0, "venue" = the POST's arrival at polysim
SEGMENTS = (("decode", "recv", "watcher"),  # frame in the watcher's thread -> parsed, batched, about to be sent
            ("to_intake", "watcher", "intake_in"),  # watcher -> intake hop
            ("intake", "intake_in", "intake_sent"),  # dedupe, persist, about to route
            ("to_coalescer", "intake_sent", "coalesce_in"),  # intake -> coalescer hop
            ("coalesce", "coalesce_in", "coalesced"),  # burst rules, sizing
            ("to_risk", "coalesced", "risk_in"),  # coalescer -> risk hop
            ("risk", "risk_in", "risk"),  # risk check, reservation committed
            ("to_executor", "risk", "exec_in"),  # risk -> executor hop and the executor's queue
            ("book", "exec_in", "exec_book"),  # market facts and book from the cache
            ("price", "exec_book", "priced"),  # journal the intent, price and size the order
            ("sign", "priced", "signed"),  # EIP-712 order hash and signature
            ("journal", "signed", "sent"),  # journal the signed order, count the post (commits)
            ("post", "sent", "venue"),  # HTTP request until it arrives at polysim
            ("ack", "venue", "acked"))  # polysim's matching and reply


def segments(run: Run, reasons=("leading", "fill")) -> dict[str, list[float]]:
    """Live per-segment times (ms) of leading / fill-by-fill intents, from StageTiming (relative to
    the receipt of the intent's first fill) and the POST's arrival at polysim."""
    seg = defaultdict(list)
    for iid, it in run.intents.items():
        if it["reason"] not in reasons:
            continue
        bot = bot_row(run, it["first"])
        p = post_ns(run, iid)
        st = dict(run.stages.get(it["first"], {}))
        if not bot or not p:
            continue
        st["recv"], st["venue"] = 0.0, (p - bot["recv_mono_ns"]) / 1e6
        for name, a, b in SEGMENTS:
            if a in st and b in st:
                seg[name].append(st[b] - st[a])
    return dict(seg)
