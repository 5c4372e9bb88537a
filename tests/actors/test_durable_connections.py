"""The connections a POST or the kill switch depends on commit with synchronous=FULL (store/db.py)."""
from __future__ import annotations

from tests.actors.test_executor import make
from tests.actors.test_supervisor import start


def test_the_executors_journal_connection_is_full(tmp_path):
    h, _ = make(tmp_path)
    assert h.actor.db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_the_supervisors_kill_switch_connection_is_full(tmp_path):
    h, _ = start(tmp_path)
    assert h.actor.db.execute("PRAGMA synchronous").fetchone()[0] == 2
