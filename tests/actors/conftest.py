"""Fixtures shared by the actor tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def made():
    """Harnesses a test started; their actors' `on_exit` runs after it (threads stopped, files closed)."""
    hs = []
    yield hs
    for h in hs:
        h.actor.on_exit()
