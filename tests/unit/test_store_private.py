"""State is its owner's only (0700 folder, 0600 files) and the journal's connection is durable."""
from __future__ import annotations

import os
import stat

import pytest

from polycopy.store.db import DURABLE, open_db
from polycopy.store.private import UMASK, private_dir, tighten


def mode(path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def private_umask():
    old = os.umask(UMASK)
    yield
    os.umask(old)


def test_a_new_database_its_wal_and_shm_are_0600_under_the_private_umask(tmp_path, private_umask):
    db = open_db(tmp_path / "state" / "p.sqlite")
    db["t"].insert({"a": 1})
    files = [tmp_path / "state" / n for n in ("p.sqlite", "p.sqlite-wal", "p.sqlite-shm")]
    assert [mode(f) for f in files] == [0o600] * 3
    assert mode(tmp_path / "state") == 0o700


def test_the_durable_connection_commits_with_full_and_the_others_with_normal(tmp_path):
    assert open_db(tmp_path / "a.sqlite", DURABLE).execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert open_db(tmp_path / "a.sqlite").execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert open_db(tmp_path / "a.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_tighten_takes_group_and_other_access_from_what_an_older_version_left(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    ours = ["polycopy.sqlite", "polycopy.sqlite-wal", "target_trades.csv", "telemetry.json", "thespian.log",
            "actors-19410.key"]
    for name in [*ours, "notes.txt"]:
        (state / name).write_text("x")
        os.chmod(state / name, 0o644)
    (state / "polycopy.log.1").write_text("x")
    os.chmod(state / "polycopy.log.1", 0o640)
    os.symlink(tmp_path / "elsewhere", state / "telemetry.json.link")
    tighten(state, "polycopy.sqlite", state / "polycopy.log")
    assert mode(state) == 0o700
    assert {n: mode(state / n) for n in [*ours, "polycopy.log.1"]} == {n: 0o600 for n in [*ours, "polycopy.log.1"]}
    assert mode(state / "notes.txt") == 0o644  # not ours to change


def test_a_sticky_shared_folder_is_left_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    private_dir(shared)
    assert mode(shared) == 0o1777
    private_dir(tmp_path / "new" / "state")
    assert mode(tmp_path / "new" / "state") == 0o700
