"""The commits a POST or the kill switch depends on run with synchronous=FULL (store/db.py): the
supervisor's connection always, the executor's for the journal commit before each send (its other
commits are NORMAL)."""
from __future__ import annotations

from polycopy.store import journal
from tests.actors.test_executor import FACTS, approved, live, make
from tests.actors.test_supervisor import start


def test_the_executor_commits_each_signed_order_with_full_before_its_post(tmp_path):
    h, rest = live(tmp_path)
    assert h.actor.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL between the sends
    h.deliver(FACTS)
    seen: list = []
    h.actor.db.conn.set_trace_callback(seen.append)
    post = rest.post_order
    rest.post_order = lambda body: (seen.append("POST"), post(body))[1]
    h.deliver(approved())
    i = seen.index("POST")
    before = seen[:i]
    insert = max(n for n, s in enumerate(before) if s.startswith(f"INSERT INTO {journal.ORDERS}"))
    full = max(n for n, s in enumerate(before[:insert]) if s.startswith("PRAGMA synchronous"))
    assert before[full] == "PRAGMA synchronous=FULL" and "COMMIT" in before[insert:]
    assert before[insert:].index("COMMIT") < before[insert:].index("PRAGMA synchronous=1")  # restored after it
    assert len(rest.posts) == 1 and h.actor.db.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_a_connection_that_is_full_stays_full(tmp_path):
    h, _ = make(tmp_path)
    h.actor.db.execute("PRAGMA synchronous=FULL")
    h.deliver(FACTS)
    h.deliver(approved())
    assert h.actor.db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_the_supervisors_kill_switch_connection_is_full(tmp_path):
    h, _ = start(tmp_path)
    assert h.actor.db.execute("PRAGMA synchronous").fetchone()[0] == 2
