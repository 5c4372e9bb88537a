"""Apply a `FaultSpec` (from a scenario timeline or the control API) to the fault knobs.

Deadline knobs (`*_until`) are monotonic seconds; `for_s` (default 5) sets them that far
from now. `rtds_duplicate` (value = share, `type` = one RTDS type or both), `rtds_malformed`
(value = share, `variants` = frame kinds) and `data_api_hostile` (`variants` = row kinds) drive
the hostile-input knobs (hostile.py). Relayer and chain kinds are applied by chain_faults.py. Flags and values given with `for_s` are put back after that long (call on the loop
thread).
"""
from __future__ import annotations

import asyncio
import time

from polycopy.sim.feed import RTDS_TYPES
from polycopy.sim.hostile import FRAME_KINDS, ROW_KINDS
from polycopy.sim.model import FeedFaults, VenueFaults
from polycopy.sim.scenario import FaultSpec

_DEADLINES = {"data_api_429": ("feed", "data_api_rate_limit_until"),
              "data_api_503": ("feed", "data_api_timeout_until"),
              "venue_429": ("venue", "rate_limit_until"),
              "venue_425": ("venue", "engine_restart_until"),
              "venue_503": ("venue", "post_only_until")}
_FLAGS = {"rtds_stall": ("feed", "rtds_stalled"),
          "venue_drop_post_response": ("venue", "drop_post_response"),
          "venue_settlement_fails": ("venue", "settlement_fails")}
_VALUES = {"data_api_lag_ms": ("feed", "data_api_lag_ms"),
           "venue_post_delay_ms": ("venue", "post_delay_ms")}


def apply(spec: FaultSpec, feed: FeedFaults, venue: VenueFaults,
          loop: asyncio.AbstractEventLoop) -> None:
    target = {"feed": feed, "venue": venue}
    kind, for_s = spec.kind, spec.for_s
    if kind in _DEADLINES:
        which, name = _DEADLINES[kind]
        setattr(target[which], name, time.monotonic() + (for_s or 5.0))
        if kind == "venue_429" and spec.value:
            venue.retry_after_s = spec.value
    elif kind in _FLAGS:
        which, name = _FLAGS[kind]
        _set_for(target[which], name, True, for_s, loop)
    elif kind in _VALUES:
        which, name = _VALUES[kind]
        _set_for(target[which], name, spec.value or 0, for_s, loop)
    elif kind == "rtds_drop":
        feed.rtds_drop_now = True
    elif kind == "rtds_duplicate":  # value: share of frames sent twice (1 = every one)
        shares = {**feed.rtds_duplicate,
                  **{t: float(spec.value or 0) for t in ([spec.type] if spec.type else RTDS_TYPES)}}
        _set_for(feed, "rtds_duplicate", shares, for_s, loop)
    elif kind == "rtds_malformed":  # value: chance of a hostile frame after each good one
        _set_for(feed, "rtds_malformed_share", float(spec.value or 0), for_s, loop)
        if spec.variants:
            _set_for(feed, "rtds_malformed_kinds", _kinds(spec.variants, FRAME_KINDS), for_s, loop)
    elif kind == "data_api_hostile":
        _set_for(feed, "data_api_hostile", _kinds(spec.variants or ROW_KINDS, ROW_KINDS), for_s,
                 loop)
    elif kind == "rtds_lag_ms":
        by_type = dict(feed.extra.get("rtds_lag_ms_by_type", {}))
        for t in [spec.type] if spec.type else RTDS_TYPES:
            by_type[t] = spec.value or 0
        _set_for(feed, "extra", {**feed.extra, "rtds_lag_ms_by_type": by_type}, for_s, loop)


def _kinds(wanted: list[str], known: tuple) -> list[str]:
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValueError(f"unknown variants {unknown}: use {list(known)}")
    return list(wanted)


def _set_for(obj, name: str, value, for_s: float | None, loop) -> None:
    before = getattr(obj, name)
    setattr(obj, name, value)
    if for_s:
        loop.call_later(for_s, setattr, obj, name, before)


def snapshot(feed: FeedFaults, venue: VenueFaults) -> dict:
    """The knobs as JSON, with deadlines shown as seconds left."""
    now = time.monotonic()

    def show(obj):
        return {k: (max(0.0, round(v - now, 3)) if k.endswith("_until") else v)
                for k, v in vars(obj).items()}
    return {"feed": show(feed), "venue": show(venue)}
