"""The bot's files are its owner's only: state folder 0700, every file in it 0600.

The database, its WAL, the CSVs, telemetry.json, the logs and the transport key tell what the
bot holds and can be used against it. New files: the umask (`private_umask`, set by run.py and by
whoever starts the actor system; forked actors inherit it, and SQLite gives -wal/-shm the mode of
the database). Files left by an older version: `tighten`, at start. Only files and folders this
user owns are changed, only by removing access, and a sticky shared folder (/tmp) is left alone.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
# What the bot writes into its state folder (the database name is added by `tighten`).
STATE_FILES = ("target_*.csv", "telemetry.json", "thespian.log*", "actors-*.key")


def private_umask() -> None:
    os.umask(UMASK)


def private_dir(path: Path) -> Path:
    """Create the folder 0700, or take group and other access away from ours."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _restrict(path, DIR_MODE)
    return path


def tighten(state_dir: Path, db_name: str, log_path: Path | None = None) -> None:
    """The state folder and the files polycopy wrote there (and the log files) to 0700/0600."""
    private_dir(state_dir)
    for pattern in (db_name + "*", *STATE_FILES):
        for p in state_dir.glob(pattern):
            _restrict(p, FILE_MODE)
    if log_path is not None and log_path.parent.is_dir():
        for p in log_path.parent.glob(log_path.name + "*"):
            _restrict(p, FILE_MODE)


def _restrict(path: Path, allowed: int) -> None:
    try:
        st = path.lstat()
    except OSError:
        return
    if st.st_uid != os.getuid() or stat.S_ISLNK(st.st_mode) or st.st_mode & stat.S_ISVTX:
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & ~allowed:
        os.chmod(path, mode & allowed)
