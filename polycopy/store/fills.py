"""Fills seen, owned by Intake. One row per dedupe key; the primary key makes a fill new exactly once.

status: "routed" (sent to its coalescer), "buffered" (waiting for the coalescer; routed again
after a restart if still young), "stale" (recorded, not copied: too old at start),
"unconfirmed" (a repeated occurrence only RTDS reported: copied once the backstop lists it,
policy/dedupe.py).
Mempool (provisional) fills, keyed `pending|...`: "provisional" (copied, waiting for the other
feeds), "held" (not copied: `copy.copy_pending_fills` is off), then "confirmed" or "failed".
A settled row that confirms a provisional fill names it in `confirms`; "linked" when the
provisional fill was already copied (so the row was not routed).
Amounts are stored as text so they read back as the same Decimal.
"""
from __future__ import annotations

import time
from decimal import Decimal

import sqlite_utils

from polycopy.messages import SourceFill

TABLE = "fills"
COLUMNS = {
    "key": str, "source_wallet": str, "tx_hash": str, "token_id": str, "condition_id": str, "outcome": str, "side": str,
    "price": str, "size": str, "source_ts_ms": int, "envelope_ts_ms": int, "feed": str,
    "recv_mono_ns": int, "slug": str, "status": str, "seen_ts_ms": int, "confirms": str,
}
OPEN_PENDING = ("provisional", "held", "buffered")


def ensure(db: sqlite_utils.Database) -> None:
    db[TABLE].create(COLUMNS, pk="key", if_not_exists=True)
    db[TABLE].create_index(["source_ts_ms"], if_not_exists=True)
    if "confirms" not in db[TABLE].columns_dict:  # a database from before the mempool path
        db[TABLE].add_column("confirms", str)


def save_new_fills(db: sqlite_utils.Database, fills: list[SourceFill], status: dict[str, str],
                   links: dict[str, str] | None = None) -> list[SourceFill]:
    """Insert the fills whose key is not stored yet, in one transaction; return those.
    `links`: key -> the provisional fill's key that this settled row confirms."""
    now = int(time.time() * 1000)
    links = links or {}
    new = []
    with db.conn:
        for f in fills:
            cur = db.conn.execute(
                f"INSERT OR IGNORE INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                (f.key, f.source_wallet, f.tx_hash, f.token_id, f.condition_id, f.outcome, f.side, str(f.price), str(f.size),
                 f.source_ts_ms, f.envelope_ts_ms, f.feed, f.recv_mono_ns, f.slug, status[f.key], now,
                 links.get(f.key, "")),
            )
            if cur.rowcount == 1:
                new.append(f)
    return new


def set_status(db: sqlite_utils.Database, keys: list[str], status: str, only_from: str | None = None) -> None:
    """Set the status of `keys` (only of those whose status is `only_from`, when given)."""
    where = "key = ?" + (" AND status = ?" if only_from else "")
    rows = [(status, k, only_from) if only_from else (status, k) for k in keys]
    if not rows:  # no empty transaction on the hot path
        return
    with db.conn:
        db.conn.executemany(f"UPDATE {TABLE} SET status = ? WHERE {where}", rows)


def set_statuses(db: sqlite_utils.Database, statuses: dict[str, str]) -> None:
    """Set each key's status, in one transaction."""
    if not statuses:
        return
    with db.conn:
        db.conn.executemany(f"UPDATE {TABLE} SET status = ? WHERE key = ?", [(s, k) for k, s in statuses.items()])


def load_open_pending(db: sqlite_utils.Database, since_ms: int) -> list[tuple[SourceFill, str, int, Decimal]]:
    """Provisional fills still waiting for confirmation, seen at or after `since_ms`:
    (fill, status, seen_ts_ms, size confirmed so far), oldest first."""
    ensure(db)
    rows = db.execute(
        f"SELECT * FROM {TABLE} WHERE key LIKE 'pending|%' AND status IN ({', '.join('?' * len(OPEN_PENDING))})"
        f" AND seen_ts_ms >= ? ORDER BY seen_ts_ms, rowid", [*OPEN_PENDING, since_ms])
    names = [c[0] for c in rows.description]
    out = []
    for r in rows.fetchall():
        row = dict(zip(names, r))
        done = db.execute(f"SELECT size FROM {TABLE} WHERE confirms = ?", [row["key"]]).fetchall()
        out.append((_fill(row), row["status"], row["seen_ts_ms"], sum((Decimal(s) for (s,) in done), Decimal(0))))
    return out


def load_keys(db: sqlite_utils.Database, since_ms: int) -> dict[str, int]:
    """key -> source_ts_ms of every fill at or after `since_ms`."""
    ensure(db)
    rows = db.execute(f"SELECT key, source_ts_ms FROM {TABLE} WHERE source_ts_ms >= ?", [since_ms])
    return dict(rows.fetchall())


def last_seen_s(db: sqlite_utils.Database, tokens: list[str]) -> dict[str, int]:
    """token -> unix s when intake last stored a source fill of it: the copy path's own view of the
    source's trading, ahead of the Data API's (the reconciler leaves such tokens to the copy path)."""
    if not tokens:
        return {}
    ensure(db)
    marks = ",".join("?" * len(tokens))
    rows = db.execute(f"SELECT token_id, max(seen_ts_ms) FROM {TABLE} WHERE token_id IN ({marks}) GROUP BY token_id",
                      list(tokens))
    return {t: int(ms // 1000) for t, ms in rows.fetchall() if ms}


def is_stored(db: sqlite_utils.Database, key: str) -> bool:
    return db.execute(f"SELECT 1 FROM {TABLE} WHERE key = ?", [key]).fetchone() is not None


def load_with_status(db: sqlite_utils.Database, status: str, since_ms: int) -> list[SourceFill]:
    """Fills with this status from `since_ms` on, oldest first: "buffered" (stored but never routed:
    the process stopped while they waited), "unconfirmed" (repeats waiting for the backstop)."""
    ensure(db)
    rows = db.execute(
        f"SELECT * FROM {TABLE} WHERE status = ? AND source_ts_ms >= ? ORDER BY seen_ts_ms, rowid", [status, since_ms]
    )
    names = [c[0] for c in rows.description]
    return [_fill(dict(zip(names, r))) for r in rows.fetchall()]


def count_by_status(db: sqlite_utils.Database) -> dict[str, int]:
    ensure(db)
    return dict(db.execute(f"SELECT status, COUNT(*) FROM {TABLE} GROUP BY status").fetchall())


def _fill(row: dict) -> SourceFill:
    return SourceFill(
        key=row["key"], source_wallet=row["source_wallet"], condition_id=row["condition_id"], token_id=row["token_id"],
        outcome=row["outcome"], side=row["side"], price=Decimal(row["price"]), size=Decimal(row["size"]),
        tx_hash=row["tx_hash"], source_ts_ms=row["source_ts_ms"], feed=row["feed"], recv_mono_ns=row["recv_mono_ns"],
        envelope_ts_ms=row["envelope_ts_ms"], slug=row["slug"], provisional=row["key"].startswith("pending|"),
    )
