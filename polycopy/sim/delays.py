"""Copy delay: each order the venue received, joined to the source fill it copies.

The join is by token: the latest source fill on the order's token at or before the order's
receipt (`recv_mono_ns`). Orders with no earlier source fill on their token are left out.
"""
from __future__ import annotations

import bisect


def copy_delays(source_fills: list[dict], clob_records: list[dict]) -> list[dict]:
    by_token: dict[str, list[tuple[int, str]]] = {}
    for fill in source_fills:
        by_token.setdefault(fill["token_id"], []).append((fill["sched_mono_ns"],
                                                          fill["fill_key"]))
    for fills in by_token.values():
        fills.sort()
    out = []
    for rec in clob_records:
        if (rec.get("method"), rec.get("path")) != ("POST", "/order") or "token_id" not in rec:
            continue
        fills = by_token.get(rec["token_id"], [])
        i = bisect.bisect_right(fills, (rec["recv_mono_ns"], "\uffff")) - 1
        if i < 0:
            continue
        sched, key = fills[i]
        out.append({"order_id": rec.get("order_id"), "token_id": rec["token_id"],
                    "status": rec.get("status"), "fill_key": key,
                    "recv_mono_ns": rec["recv_mono_ns"], "fill_mono_ns": sched,
                    "delay_ms": (rec["recv_mono_ns"] - sched) / 1e6})
    return out
