"""The lane's one message of its own, sent through Thespian."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class LaneOpen:
    """Sender -> receiver through Thespian, once per lane connection, after every message the
    sender sent there through Thespian before: the receiver reads the connection that presented
    the same token from then on, as coming from this message's sender (inbox.py)."""

    token: bytes

    def __repr__(self) -> str:
        return "LaneOpen()"

    __str__ = __repr__
