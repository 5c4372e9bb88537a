"""Where a system's inboxes live and the key that seals lane frames, and how an address maps to an inbox.

`configure()` runs once in the process that starts the actor system, before `ActorSystem()`:
the admin and every actor are forked from it (THESPIAN.md §2) and inherit the settings, so the
key never touches the disk and no process outside the system's own tree holds it. A process
that never called `configure()` (the CLI commands, actor tests on simpleSystemBase) has no
lane and sends everything through Thespian.

An inbox's path is a function of its actor's Thespian address (`<folder>/<port>.sock`): a
restarted actor has a new address, so it has a new inbox, and senders learn it from the same
`Peers` message that tells them the new address. The supervisor passes nothing more.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

KEY_BYTES = 32
MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with its terminating NUL (Linux)


@dataclass(frozen=True)
class LaneSettings:
    folder: Path
    key: bytes
    frame_mac: bool = False  # a MAC on every frame too (frames.py says why the default is per connection)

    def __repr__(self) -> str:  # never the key
        return f"LaneSettings(folder={str(self.folder)!r})"


_settings: LaneSettings | None = None


def lane_folder(state_dir: Path, admin_port: int) -> Path:
    """One folder per system (a `--sim` run and a real one may share a state folder, never a port).
    A state folder too deep for a socket path (sun_path: 107 bytes) gets a short private folder in
    the temp folder instead, named after the state folder's hash; `configure` checks it is ours."""
    folder = Path(state_dir).resolve() / f"lane-{admin_port}"
    if len(str(inbox_path(folder, 65535))) <= MAX_SOCKET_PATH:
        return folder
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"polycopy-lane-{os.getuid()}-{digest}"


def configure(folder: Path | None, key: bytes | None = None, frame_mac: bool = False) -> LaneSettings | None:
    """Turn the lane on (a folder) or off (None) for this process and every process forked from it
    from now on. Makes the folder 0700 and ours, and removes inboxes a previous run left behind.
    Returns None (lane off, with a warning) when the folder cannot be made private."""
    global _settings
    if folder is None:
        _settings = None
        return None
    folder = Path(folder)
    key = key if key is not None else secrets.token_bytes(KEY_BYTES)
    if len(key) != KEY_BYTES:
        raise ValueError("the lane key must be 32 bytes")
    if len(str(inbox_path(folder, 65535))) > MAX_SOCKET_PATH:
        logger.warning("lane off: the inbox folder {} is too long for a unix socket path", folder)
        _settings = None
        return None
    try:
        _private_folder(folder)
    except OSError as e:
        logger.warning("lane off: cannot make {} a private folder: {}", folder, e)
        _settings = None
        return None
    for old in folder.glob("*.sock"):
        old.unlink(missing_ok=True)
    _settings = LaneSettings(folder=folder, key=key, frame_mac=frame_mac)
    return _settings


def settings() -> LaneSettings | None:
    return _settings


def _private_folder(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{folder} is not a folder")
    if st.st_uid != os.getuid():
        raise OSError(f"{folder} belongs to uid {st.st_uid}, not to us")
    if st.st_mode & 0o077:
        os.chmod(folder, 0o700)


def endpoint(addr) -> int | None:
    """The TCP port of a Thespian address on this host, or None (no lane: another base, a string
    address in tests, or anything unexpected)."""
    try:
        ip, port = addr.addressDetails.sockname[:2]
    except (AttributeError, TypeError, ValueError):
        return None
    return port if isinstance(port, int) and 0 < port < 65536 else None


def inbox_path(folder: Path, port: int) -> Path:
    return Path(folder) / f"{port}.sock"
