"""Opening the database. Every actor process opens its own connection to the same file."""
from __future__ import annotations

from pathlib import Path

import sqlite_utils


def open_db(path: str | Path, synchronous: str = "NORMAL") -> sqlite_utils.Database:
    """WAL mode: readers never block the writer; a commit survives a crash of the process.

    `path` ":memory:" gives a private in-memory database (tests).
    """
    if str(path) == ":memory:":
        return sqlite_utils.Database(memory=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(str(path))
    db.execute("PRAGMA busy_timeout=10000")  # first: several processes open the file at start
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
    return db


def create_schema(path: str | Path, synchronous: str = "NORMAL") -> None:
    """Every table, created once by the runner before any actor process opens the file.

    Actors call their own `ensure` too (tests use them alone); on an existing table that is a
    no-op that takes no write lock, so start-up never races on DDL.
    """
    from polycopy.store import control, exposure, fills, journal, positions

    db = open_db(path, synchronous)
    for module in (control, exposure, fills, journal, positions):
        module.ensure(db)
    db.conn.close()
