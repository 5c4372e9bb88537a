"""What a run did, from its database: `python -m polycopy.ops.report --db STATE.sqlite [--json]`.

- source fills seen, by intake status (routed / buffered / stale);
- risk decisions (the `decisions` table): approved, clipped, rejected, with reasons, and the
  coalescer's drops when they reach risk (see Risk.receiveMsg_RiskDecision);
- orders (the executor's journal): filled, partial, unfilled, rejected, not sent (with reasons);
- notional: reserved by risk, filled by the venue (or on paper);
- slippage vs the source, in bps of the source price, per filled order: (our average fill
  price - the intent's source price) / source price, sign turned so that positive = worse
  for us (a BUY paid more, a SELL got less); weighted by filled notional;
- latency (ms): source timestamp -> risk decision, our receipt -> risk decision (monotonic,
  exact), receipt -> order signed and receipt -> matched (wall clock: the receipt's wall time
  is the decision's wall time minus receipt -> decision).

Opens the file read-only: safe on the database of a running system.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from statistics import median

from polycopy.policy.limits import parse_refusal

ZERO = Decimal(0)


def _rows(conn: sqlite3.Connection, sql: str) -> list[dict]:
    try:
        cur = conn.execute(sql)
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return {"n": len(values), "p50": round(median(values), 1), "p95": round(p95, 1), "max": round(values[-1], 1)}


def _slippage_bps(side: str, source: Decimal, avg: Decimal) -> Decimal:
    diff = avg - source if side == "BUY" else source - avg
    return diff / source * 10_000


def build(conn: sqlite3.Connection) -> dict:
    fills = Counter(r["status"] for r in _rows(conn, "SELECT status FROM fills"))
    decisions = _rows(conn, "SELECT * FROM decisions ORDER BY id")
    intents = {r["intent_id"]: r for r in _rows(conn, "SELECT * FROM exec_intents")}
    orders = _rows(conn, "SELECT * FROM exec_orders")
    by_decision = Counter(d["decision"] for d in decisions)
    skipped = Counter(f"risk:{d['reason']}" for d in decisions if d["decision"] == "rejected")
    skipped.update(f"coalescer:{d['reason']}" for d in decisions if d["decision"] == "dropped")
    skipped.update(f"executor:{parse_refusal(i['reason'])[0]}" for i in intents.values() if i["state"] == "not_sent")
    outcome, filled_usd, slip, slip_weight, slip_values = Counter(), ZERO, ZERO, ZERO, []
    decided = {d["intent_id"]: d for d in decisions if d["decision"] in ("approved", "clipped")}
    to_signed, to_matched = [], []
    for o in orders:
        size, got, usd = Decimal(o["size"]), Decimal(o["filled_size"] or "0"), Decimal(o["filled_notional"] or "0")
        if o["state"] == "accepted" and got > 0:
            outcome["filled" if got >= size else "partial"] += 1
            filled_usd += usd
            it = intents.get(o["intent_id"])
            if it is not None and Decimal(it["source_price"]) > 0:
                bps = _slippage_bps(o["side"], Decimal(it["source_price"]), usd / got)
                slip_values.append(float(bps))
                slip, slip_weight = slip + bps * usd, slip_weight + usd
        elif o["state"] == "accepted":
            outcome["unfilled"] += 1
        else:
            outcome[o["state"]] += 1
            if o["state"] == "rejected":
                skipped[f"venue:{o['reason']}"] += 1
        d = decided.get(o["intent_id"])
        if d is not None and d["recv_to_risk_ms"] >= 0:
            recv_wall_ms = d["decided_ts"] * 1000 - d["recv_to_risk_ms"]
            to_signed.append(o["signed_ts"] * 1000 - recv_wall_ms)
            if o["matched_ts"]:
                to_matched.append(o["matched_ts"] * 1000 - recv_wall_ms)
    outcome["not_sent"] += sum(1 for i in intents.values() if i["state"] == "not_sent")
    return {
        "source_fills": dict(fills),
        "decisions": {"total": len(decisions), **dict(by_decision)},
        "copied": {k: v for k, v in outcome.items() if v},
        "skipped_by_reason": dict(sorted(skipped.items())),
        "notional_usd": {"reserved": str(sum((Decimal(d["notional_usd"]) for d in decided.values()), ZERO)),
                         "filled": str(filled_usd)},
        "slippage_bps": {"weighted_mean": str(round(slip / slip_weight, 2)) if slip_weight else None,
                         **_stats(slip_values)},
        "latency_ms": {
            "source_to_decision": _stats([d["decided_ts"] * 1000 - d["source_ts_ms"] for d in decisions
                                          if d["source_ts_ms"]]),
            "recv_to_decision": _stats([d["recv_to_risk_ms"] for d in decisions if d["recv_to_risk_ms"] >= 0]),
            "recv_to_signed": _stats(to_signed),
            "recv_to_matched": _stats(to_matched),
        },
    }


def render(report: dict) -> str:
    lines = []
    for section, value in report.items():
        lines.append(f"{section.replace('_', ' ')}:")
        if not value:
            lines.append("  (none)")
        for k, v in value.items():
            if isinstance(v, dict):
                v = ", ".join(f"{a}={b}" for a, b in v.items())
            lines.append(f"  {k}: {v}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m polycopy.ops.report", description="What a run did, from its database.")
    p.add_argument("--db", required=True, type=Path, help="the run's SQLite file (store.path; --sim: state/sim/...)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = p.parse_args(argv)
    if not args.db.is_file():
        print(f"no such database: {args.db}", file=sys.stderr)
        return 2
    try:
        conn = sqlite3.connect(f"file:{args.db.resolve()}?mode=ro", uri=True)
        report = build(conn)
    except sqlite3.Error as e:
        print(f"cannot read {args.db}: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2, sort_keys=True) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
