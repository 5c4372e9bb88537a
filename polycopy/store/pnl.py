"""The ledger's table: profit and loss per market, ours and the source's over the same markets
(policy/pnl.py), rewritten each time the ledger recomputes it. Read by reports and
`python -m polycopy.ops.report`-style tools; money as TEXT holding the Decimal."""
from __future__ import annotations

import time
from decimal import Decimal

import sqlite_utils

from polycopy.policy.pnl import MarketPnl, q

TABLE = "pnl_markets"
FIELDS = ("cost", "proceeds", "fees", "redeemed", "merged", "value", "unredeemed", "realised", "unrealised", "total")


def ensure(db: sqlite_utils.Database) -> None:
    cols = {"condition_id": str, "slug": str, "resolved": int, "ratio": str, "tracking_error": str, "updated_ts": float}
    for who in ("ours", "source"):
        cols.update({f"{who}_{k}": str for k in FIELDS})
    db[TABLE].create(cols, pk="condition_id", if_not_exists=True)


def save(db: sqlite_utils.Database, rows: list[MarketPnl]) -> None:
    now = time.time()
    with db.conn:
        for r in rows:
            row = {"condition_id": r.condition_id, "slug": r.slug, "resolved": int(r.resolved), "ratio": str(r.ratio),
                   "tracking_error": str(q(r.tracking_error)), "updated_ts": now}
            for who, p in (("ours", r.ours), ("source", r.source)):
                row.update({f"{who}_{k}": v for k, v in p.as_dict().items()})
            db.execute(f"INSERT OR REPLACE INTO {TABLE} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                       list(row.values()))


def load(db: sqlite_utils.Database) -> list[dict]:
    ensure(db)
    return list(db.query(f"SELECT * FROM {TABLE} ORDER BY updated_ts, condition_id"))


def total(rows: list[dict], column: str) -> Decimal:
    return sum((Decimal(r[column]) for r in rows), Decimal(0))
