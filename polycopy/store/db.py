"""Opening the database. Every actor process opens its own connection to the same file.

Durability (issue 14). WAL with synchronous=NORMAL survives a crash of the process, not a power
loss: the last commits may be gone after a reboot, and a fill seen again would be signed again.
What must survive before a POST is the fill (intake), the reservation (risk) and the signed order
(the executor's journal). All connections append to the one WAL file, and a FULL commit fsyncs
that file, which makes every frame written before it durable, whichever process wrote it. The
fill and the reservation are committed before the messages that lead to the journal commit are
sent, so the executor's connection is the one that must be FULL (`DURABLE`): one fsync per commit
there covers the whole chain, and the other connections stay NORMAL (`store.synchronous`), off
the fsync. The supervisor's kill switch commits with FULL too. Cost: bench/results/stages.json.

Only the executor's commits that a POST follows must be FULL: the signed order with its first send
counted, and each later send counted (`durable`, store/journal.py). Its other commits (the intents
it received, the venue's answers, outcomes) are NORMAL: a power loss that takes them also took
nothing a POST depended on (the answer of a posted order is looked up again by its hash), and
their commits neither fsync nor hold the database's one write lock (intake's and risk's commits
wait on it) for an fsync's time.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

DURABLE = "FULL"  # connections whose commits a POST (or the kill switch) depends on


def open_db(path: str | Path, synchronous: str = "NORMAL") -> sqlite_utils.Database:
    """WAL mode: readers never block the writer; a commit survives a crash of the process, and
    with `synchronous="FULL"` (DURABLE) a power loss too.

    `path` ":memory:" gives a private in-memory database (tests).
    """
    if str(path) == ":memory:":
        return sqlite_utils.Database(memory=True)
    Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the runner tightens an existing one
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
    from polycopy.store import control, exposure, fills, journal, pnl, positions, redemptions

    db = open_db(path, synchronous)
    for module in (control, exposure, fills, journal, positions, redemptions, pnl):
        module.ensure(db)
    db.conn.close()


@contextmanager
def durable(db: sqlite_utils.Database):
    """One transaction whose commit fsyncs the WAL (and with it every commit before it, from any
    process), on a connection that is NORMAL otherwise; its own level is restored after."""
    level = db.conn.execute("PRAGMA synchronous").fetchone()[0]
    if level >= 2:  # FULL or EXTRA already
        with db.conn:
            yield
        return
    db.conn.execute("PRAGMA synchronous=FULL")
    try:
        with db.conn:
            yield
    finally:
        db.conn.execute(f"PRAGMA synchronous={int(level)}")
