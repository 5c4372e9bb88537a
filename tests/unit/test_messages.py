"""Every message type crosses process boundaries: each must pickle, and print short."""
from __future__ import annotations

import dataclasses
import inspect
import pickle
from decimal import Decimal

import pytest

from polycopy import messages
from polycopy.config import load_config
from tests.conftest import ROOT

MESSAGE_TYPES = [
    obj for _, obj in inspect.getmembers(messages, inspect.isclass)
    if issubclass(obj, messages.Message) and obj is not messages.Message
]
CONFIG = load_config(ROOT / "config.yaml")


def sample_value(name: str, annotation: str):
    if name == "config":
        return CONFIG
    if "Decimal" in annotation:
        return Decimal("0.123456")
    if annotation.startswith("int"):
        return 1_700_000_000_123
    if annotation.startswith("bool"):
        return True
    if annotation.startswith("float"):
        return 1.5
    if annotation.startswith("tuple"):
        return ("a", "b")
    if annotation.startswith("dict"):
        return {"k": 1}
    if annotation == "CopyIntent":
        return build(messages.CopyIntent)
    return "x" * 80


def build(cls):
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    return cls(**{name: sample_value(name, str(t)) for name, t in hints.items()})


def test_the_enumeration_finds_the_messages():
    names = {c.__name__ for c in MESSAGE_TYPES}
    assert {"SourceFill", "FillBatch", "CopyIntent", "ApprovedIntent", "OrderOutcome", "Shutdown", "TripKillSwitch"} <= names
    assert len(MESSAGE_TYPES) >= 20


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
def test_round_trips_through_pickle(cls):
    msg = build(cls)
    back = pickle.loads(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == msg and type(back) is cls


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
def test_is_frozen_slotted_and_has_a_short_repr(cls):
    msg = build(cls)
    assert not hasattr(msg, "__dict__")
    assert cls.__dataclass_params__.frozen
    for f in dataclasses.fields(cls)[:1]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(msg, f.name, None)
    assert len(repr(msg)) <= 120


def test_a_batch_prints_its_length_not_its_items():
    fill = build(messages.SourceFill)
    assert repr(messages.FillBatch(fills=(fill,) * 500)) == "FillBatch(n=500)"
