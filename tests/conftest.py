"""Shared fixtures: a config whose state lives in the test's own folder."""
from __future__ import annotations

from pathlib import Path

import pytest

from polycopy.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"  # beside the checkout, in CI too
POLYMARKET = SHARED / "polymarket"


def make_config(tmp_path: Path, **sections):
    """The shipped config.yaml with state under tmp_path and the given section overrides."""
    over = {
        "store": {"path": str(tmp_path / "state" / "polycopy.sqlite")},
        "telemetry": {"log_path": str(tmp_path / "state" / "polycopy.log"), "metrics_port": 0},
    }
    for k, v in sections.items():
        over[k] = {**over.get(k, {}), **v}
    return load_config(ROOT / "config.yaml", over)


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path)


@pytest.fixture
def shared_dir() -> Path:
    assert SHARED.is_dir(), f"../shared not found beside the checkout ({SHARED})"
    return SHARED
