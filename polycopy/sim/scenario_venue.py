"""Scenario sections for the venue as it is now (VENUE-2026-12.md): retired routes served again,
market resolution, geoblock answer and enforcement, relayer credentials. Part of the scenario
schema in scenario.py (same rules: `extra="forbid"`, frozen).
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResolutionSpec(_Model):
    """Markets resolve `delay_s` after their end (resolution.py). `winners` maps a market slug or
    a series asset to its winning outcome; any other market's winner is drawn from the seed."""

    delay_s: float = Field(0, ge=0, le=86400)
    winners: dict[str, str] = {}


class GeoblockSpec(_Model):
    """The geoblock answer (`GET /api/geoblock`) and what `POST /order` enforces (VENUE §5):
    `api` open, close_only (BUYs and any order that does not reduce a held position get the
    region 403) or blocked (every order does)."""

    blocked: bool = False
    country: str = Field("IE", pattern=r"^[A-Z]{2}$")
    region: str = "L"
    api: Literal["open", "close_only", "blocked"] = "open"


class RelayerKeySpec(_Model):
    key: str = Field(min_length=8)
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")  # the key's owner


class BuilderKeySpec(_Model):
    key: str = Field(min_length=8)
    secret: str = Field(min_length=8)  # URL-safe base64, as the venue issues them
    passphrase: str = Field(min_length=1)


class RelayerSpec(_Model):
    """The relayer's credentials (relayer_auth.py) and pace: each state step and an EOA
    transaction's mining take `step_ms`."""

    api_keys: list[RelayerKeySpec] = []
    builder_keys: list[BuilderKeySpec] = []
    step_ms: int = Field(100, ge=0, le=60_000)


class LegacySpec(_Model):
    """Routes the venue retired (VENUE-2026-12.md §0-§1), answered 410 unless served again here
    for old recordings: the Data API v1 `/trades`, `/activity`, `/positions`; Gamma's `/markets`
    and `/events` lists (single lookups by id or slug are not lists and stay served)."""

    data_api_v1: bool = False
    gamma_lists: bool = False
