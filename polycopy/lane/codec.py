"""How a message becomes a lane frame's body: msgspec for the hot-path types, pickle for the rest.

Measured (bench.floor, `codec` in floor.json): pickle spends most of a hop's budget on these
frozen slotted dataclasses (their `__setstate__` is Python, field by field); msgspec's
MessagePack encoder and a typed decoder rebuild the same objects several times faster, Decimal
as its exact string. Body = one type byte (0 = pickle, n = the n-th registered type) + payload.

A registered type must be fully typed for msgspec: a field annotated `tuple` that holds
dataclasses decodes to dicts unless it is listed in `nested` with its element type (FillBatch's
`fills`). tests/unit/test_lane_codec.py round-trips every registered type and compares.
"""
from __future__ import annotations

import pickle
from typing import Iterable

import msgspec

from polycopy.errors import LaneCodecError
from polycopy.messages import (ApprovedBatch, ApprovedIntent, CopyIntent, FillBatch, IntentBatch, OrderOutcome,
                               SourceFill)

PICKLE = 0
# Appended only: a type's byte is its place here (both ends of a lane run the same code anyway).
HOT_TYPES = (FillBatch, CopyIntent, ApprovedIntent, SourceFill, IntentBatch, ApprovedBatch, OrderOutcome)
NESTED = {FillBatch: {"fills": tuple[SourceFill, ...]}}




class Codec:
    def __init__(self, types: Iterable[type] = HOT_TYPES, nested: dict | None = None, use_msgspec: bool = True):
        self.types = tuple(types) if use_msgspec else ()
        if len(self.types) > 255:
            raise ValueError("at most 255 registered types")
        self._code = {cls: i + 1 for i, cls in enumerate(self.types)}
        self._encoder = msgspec.msgpack.Encoder(decimal_format="string")
        self._decoders = [msgspec.msgpack.Decoder(type=cls) for cls in self.types]
        nested = NESTED if nested is None else nested
        self._nested = [tuple(nested.get(cls, {}).items()) for cls in self.types]

    def encode(self, msg) -> bytes:
        code = self._code.get(type(msg))
        if code is None:
            return bytes((PICKLE,)) + pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        return bytes((code,)) + self._encoder.encode(msg)

    def decode(self, body: bytes):
        if not body:
            raise LaneCodecError("empty body")
        code = body[0]
        try:
            if code == PICKLE:
                return pickle.loads(body[1:])  # noqa: S301 - the frame's MAC was checked (frames.py)
            msg = self._decoders[code - 1].decode(body[1:])
            for name, hint in self._nested[code - 1]:
                object.__setattr__(msg, name, msgspec.convert(getattr(msg, name), hint))
            return msg
        except IndexError:
            raise LaneCodecError(f"unknown type byte {code}") from None
        except (msgspec.DecodeError, msgspec.ValidationError, pickle.UnpicklingError, EOFError,
                AttributeError, ImportError, TypeError, ValueError) as e:
            raise LaneCodecError(f"{type(e).__name__}: {e}"[:200]) from None
