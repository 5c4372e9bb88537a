"""Control state owned by the supervisor: the kill switch."""
from __future__ import annotations

import time

import sqlite_utils

TABLE = "control"


def ensure(db: sqlite_utils.Database) -> None:
    db[TABLE].create({"name": str, "value": str, "reason": str, "updated_ts": float}, pk="name", if_not_exists=True)


def load_kill_switch(db: sqlite_utils.Database) -> tuple[bool, str]:
    ensure(db)
    try:
        row = db[TABLE].get("kill_switch")
    except sqlite_utils.db.NotFoundError:
        return False, ""
    return row["value"] == "tripped", row["reason"] or ""


def save_kill_switch(db: sqlite_utils.Database, tripped: bool, reason: str) -> None:
    ensure(db)
    with db.conn:
        db[TABLE].upsert(
            {"name": "kill_switch", "value": "tripped" if tripped else "armed", "reason": reason, "updated_ts": time.time()},
            pk="name",
        )


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
