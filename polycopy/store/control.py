"""Control state owned by the supervisor: switches that survive a restart (the kill switch, the
operator's pause of entries) and the marker of a requested shutdown."""
from __future__ import annotations

import time

import sqlite_utils

TABLE = "control"


def ensure(db: sqlite_utils.Database) -> None:
    db[TABLE].create({"name": str, "value": str, "reason": str, "updated_ts": float}, pk="name", if_not_exists=True)


KILL_SWITCH = "kill_switch"
ENTRIES_PAUSED = "entries_paused"


def load_switch(db: sqlite_utils.Database, name: str) -> tuple[bool, str]:
    """(on, reason) of a persisted switch; off when never set."""
    ensure(db)
    try:
        row = db[TABLE].get(name)
    except sqlite_utils.db.NotFoundError:
        return False, ""
    return row["value"] in ("tripped", "on"), row["reason"] or ""


def save_switch(db: sqlite_utils.Database, name: str, on: bool, reason: str) -> None:
    ensure(db)
    with db.conn:
        db[TABLE].upsert({"name": name, "value": "on" if on else "off", "reason": reason, "updated_ts": time.time()},
                         pk="name")


def request_shutdown(db: sqlite_utils.Database, reason: str) -> None:
    """Marks a deliberate stop, so the runner exits 0 (systemd: no restart) rather than 1."""
    ensure(db)
    with db.conn:
        db[TABLE].upsert({"name": "shutdown", "value": "requested", "reason": reason, "updated_ts": time.time()}, pk="name")


def clear_shutdown_request(db: sqlite_utils.Database) -> None:
    ensure(db)
    with db.conn:
        db[TABLE].upsert({"name": "shutdown", "value": "", "reason": "", "updated_ts": time.time()}, pk="name")


def shutdown_requested(db: sqlite_utils.Database) -> str | None:
    ensure(db)
    try:
        row = db[TABLE].get("shutdown")
    except sqlite_utils.db.NotFoundError:
        return None
    return row["reason"] if row["value"] == "requested" else None
