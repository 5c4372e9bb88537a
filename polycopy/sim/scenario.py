"""Scenario files: what polysim serves and what the source wallet does, over scenario time.

A scenario is YAML validated by the pydantic models below (`extra="forbid"`: a typo is an
error naming its location). Times are seconds from the scenario start (`at_s`). A market is
named by `market`: an explicit market's slug, or a series asset (`btc`) meaning the 15-minute
window that contains the event's time, optionally shifted (`btc+1` is the next window).
Longer than 250 lines so the schema reads in one place; the venue sections (legacy, resolution,
geoblock, relayer) are in scenario_venue.py.
"""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from polycopy.sim.scenario_venue import GeoblockSpec, LegacySpec, RelayerSpec, ResolutionSpec

DEFAULT_SOURCE_WALLET = "0x1d0034134e339a309700ff2d34e99fa2d48b0313"
DEFAULT_PATH = Path(__file__).parent / "scenarios" / "default.yaml"

Side = Literal["BUY", "SELL"]
Role = Literal["taker", "maker"]
RtdsType = Literal["trades", "orders_matched"]
FrameKind = Literal["huge_exponent", "huge_number", "deep_nesting", "huge_timestamp", "not_json",
                    "wrong_types", "null_payload", "oversize"]  # hostile.FRAME_KINDS
RowKind = Literal["future", "huge_size", "huge_timestamp", "wrong_types", "missing_fields",
                  "not_object"]  # hostile.ROW_KINDS


class ScenarioError(ValueError):
    """The scenario file is unreadable or invalid; the message says where."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Model):
    wallet: str = Field(DEFAULT_SOURCE_WALLET, pattern=r"^0x[0-9a-fA-F]{40}$")
    name: str = "gabagool22"
    pseudonym: str = "Frigid-Ostrich"
    bio: str = ""
    profile_image: str = ""


class SeriesSpec(_Model):
    """A rolling series of Up/Down markets: `<asset>-updown-<minutes>m-<window start>`, 15 minutes
    unless `window_s` says otherwise (60 makes a market that rolls and resolves every minute)."""

    asset: str = Field(pattern=r"^[a-z]{2,10}$")
    title: str  # "Bitcoin"
    window_s: int = Field(900, ge=60, le=86400, multiple_of=60)
    lookback_windows: int = Field(1, ge=0, le=8)
    lookahead_windows: int = Field(2, ge=0, le=8)
    tick_size: Decimal = Decimal("0.01")
    fee_rate: Decimal = Decimal("0.07")
    version: Literal["v1", "v2"] = "v1"


class MarketSpec(_Model):
    slug: str
    question: str = ""
    event_slug: str = ""  # default: the slug
    outcomes: list[str] = ["Yes", "No"]
    tokens: list[str] | None = None  # generated from the slug when omitted
    condition_id: str | None = Field(None, pattern=r"^0x[0-9a-f]{64}$")
    end_in_s: int = 86400  # end time, seconds after the scenario start
    tick_size: Decimal = Decimal("0.01")
    min_order_size: Decimal = Decimal("5")
    neg_risk: bool = False
    version: Literal["v1", "v2"] = "v1"
    closed: bool = False
    fee_rate: Decimal = Decimal("0")


class Level(_Model):
    price: Decimal = Field(gt=0, lt=1)
    size: Decimal = Field(gt=0)


class DefaultBook(_Model):
    """Books generated for every token: the first outcome centred on `mid`, the other on 1-mid."""

    mid: Decimal = Field(Decimal("0.5"), gt=0, lt=1)
    spread: Decimal = Field(Decimal("0.02"), gt=0)
    levels: int = Field(5, ge=0, le=50)
    size: Decimal = Field(Decimal("500"), gt=0)


class BookSpec(_Model):
    market: str
    outcome: str
    bids: list[Level] = []
    asks: list[Level] = []


class AccountSpec(_Model):
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    pusd: Decimal = Field(ge=0)
    positions: dict[str, Decimal] = {}  # token id -> shares


class FeedSpec(_Model):
    rtds_lag_ms: dict[Literal["trades", "orders_matched"], int] = {
        "orders_matched": 1900, "trades": 2300}
    data_api_lag_ms: int = Field(5000, ge=0)
    rtds_idle_timeout_s: float = Field(360, gt=0)  # silent without a PING for this long
    rtds_empty_first_frame: bool = True
    noise_per_s: float = Field(2.0, ge=0, le=500)  # other wallets' trades (global firehose)
    data_api_cache_s: float = Field(0, ge=0)  # same URL, same body for this long (real: 300)
    odd_outcome_index_share: float = Field(0, ge=0, le=1)  # RTDS rows with outcomeIndex 999
    # RTDS frames delivered twice on the same socket: one share for both types, or per type
    rtds_duplicate_share: float | dict[RtdsType, float] = Field(0)
    rtds_malformed_share: float = Field(0, ge=0, le=1)  # a hostile frame after a good one
    rtds_malformed_kinds: list[FrameKind] = list(FrameKind.__args__)
    data_api_hostile: list[RowKind] = []  # bad rows among the source wallet's (hostile.py)

    @model_validator(mode="after")
    def _duplicate_shares(self) -> "FeedSpec":
        shares = self.rtds_duplicate_share
        values = shares.values() if isinstance(shares, dict) else [shares]
        if any(not 0 <= v <= 1 for v in values):
            raise ValueError("rtds_duplicate_share: each share must be within 0..1")
        return self

    def duplicate_by_type(self) -> dict[str, float]:
        shares = self.rtds_duplicate_share
        if isinstance(shares, dict):
            return dict(shares)
        return {"trades": shares, "orders_matched": shares} if shares else {}


class PolygonSpec(_Model):
    """The Polygon node (sim/polygon.py): the operator's settlements, pending then mined.
    Defaults from MEMPOOL.md §3-4: pending ~0.65 s after the match, 6-8 % never seen pending.
    For the p90 spread (1.13 s) give `jitter_ms` (uniform, added to `pending_delay_ms`)."""

    pending_delay_ms: int = Field(650, ge=0)
    block_delay_ms: int = Field(2200, ge=0)  # match -> mined (receipt, OrderFilled logs)
    jitter_ms: int = Field(0, ge=0)
    unseen_share: float = Field(0.07, ge=0, le=1)  # straight into a block, never pending
    revert_share: float = Field(0.0, ge=0, le=1)  # mined with status 0: RTDS and Data API never list it
    drop_share: float = Field(0.0, ge=0, le=1)  # pending, never mined: never listed either
    retry_share: float = Field(0.0, ge=0, le=1)  # first attempt reverts, the retry succeeds
    retry_delay_ms: int = Field(1500, ge=0)
    noise_per_s: float = Field(3.0, gt=0, le=500)  # unrelated pending txs: keep the bot's silence check fed

    @model_validator(mode="after")
    def _shares(self) -> "PolygonSpec":
        if self.unseen_share + self.revert_share + self.drop_share + self.retry_share > 1:
            raise ValueError("unseen, revert, drop and retry shares add up to more than 1")
        return self


class FillSpec(_Model):
    """One source fill. Fills with the same `tx` label share one transaction hash."""

    at_s: float = Field(ge=0)
    market: str
    outcome: str
    side: Side = "BUY"
    price: Decimal = Field(gt=0, lt=1)
    size: Decimal = Field(gt=0)
    role: Role = "taker"
    tx: str | None = None
    repeat: int = Field(1, ge=1, le=100)  # identical fills in the same transaction


class BurstSpec(_Model):
    """Many small fills in clusters separated by `gap_ms`; random within the given ranges."""

    at_s: float = Field(ge=0)
    market: str
    outcome: str
    side: Side = "BUY"
    clusters: int = Field(4, ge=1, le=1000)
    fills_per_cluster: tuple[int, int] = (2, 5)
    gap_ms: tuple[int, int] = (400, 500)
    price: tuple[Decimal, Decimal] = (Decimal("0.45"), Decimal("0.55"))
    size: tuple[Decimal, Decimal] = (Decimal("2"), Decimal("15"))
    maker_share: float = Field(0.25, ge=0, le=1)  # fraction of fills where the source is maker
    identical_share: float = Field(0.1, ge=0, le=1)  # chance a fill is doubled in its tx

    @model_validator(mode="after")
    def _ranges(self) -> "BurstSpec":
        for name in ("fills_per_cluster", "gap_ms", "price", "size"):
            low, high = getattr(self, name)
            if low > high or low <= 0:
                raise ValueError(f"{name}: need 0 < low <= high, got {low}, {high}")
        if self.price[1] >= 1:
            raise ValueError("price: must be below 1")
        return self


class ActivitySpec(_Model):
    """A non-trade activity event of the source wallet (Data API `/activity`)."""

    at_s: float = Field(ge=0)
    type: Literal["SPLIT", "MERGE", "REDEEM", "CONVERSION"]
    market: str
    size: Decimal = Field(gt=0)


FaultKind = Literal[
    "rtds_stall", "rtds_drop", "rtds_lag_ms", "data_api_429", "data_api_lag_ms",
    "venue_429", "venue_425", "venue_503", "venue_post_delay_ms", "venue_drop_post_response",
    "venue_settlement_fails",
    "polygon_pending_delay_ms", "polygon_jitter_ms", "polygon_unseen_share", "polygon_revert_share",
    "polygon_drop_share", "polygon_retry_share",
    "data_api_503", "data_api_hostile", "rtds_duplicate", "rtds_malformed",
    "relayer_429", "relayer_503", "relayer_wallet_busy", "relayer_tx_fails", "relayer_tx_pending",
    "chain_tx_reverts", "chain_tx_pending",
]


class FaultSpec(_Model):
    """A fault switched on (for `for_s` seconds when given) or a value set (`value`)."""

    kind: FaultKind
    for_s: float | None = Field(None, gt=0)
    value: int | float | None = None  # lag or delay in ms; Retry-After seconds for the 429s; polygon_*_share 0..1
    type: RtdsType | None = None  # rtds_lag_ms / rtds_duplicate: only this type
    variants: list[str] | None = None  # rtds_malformed / data_api_hostile: which kinds (hostile.py)

    @model_validator(mode="after")
    def _variants_known(self) -> "FaultSpec":
        known = {"rtds_malformed": FrameKind, "data_api_hostile": RowKind}.get(self.kind)
        if self.variants is not None and (
                known is None or set(self.variants) - set(known.__args__)):
            raise ValueError(f"variants: only for rtds_malformed / data_api_hostile, each one of "
                             f"{list(known.__args__) if known else []}")
        return self


class TimedFault(FaultSpec):
    at_s: float = Field(ge=0)


class Scenario(_Model):
    name: str = "unnamed"
    seed: int = 1
    source: SourceSpec = SourceSpec()
    series: list[SeriesSpec] = []
    markets: list[MarketSpec] = []
    default_book: DefaultBook = DefaultBook()
    books: list[BookSpec] = []
    accounts: list[AccountSpec] = []
    feeds: FeedSpec = FeedSpec()
    polygon: PolygonSpec = PolygonSpec()
    legacy: LegacySpec = LegacySpec()
    resolution: ResolutionSpec = ResolutionSpec()
    geoblock: GeoblockSpec = GeoblockSpec()
    relayer: RelayerSpec = RelayerSpec()
    fills: list[FillSpec] = []
    bursts: list[BurstSpec] = []
    loop_s: float | None = Field(None, gt=0)  # repeat fills and bursts every loop_s seconds
    activity: list[ActivitySpec] = []
    faults: list[TimedFault] = []
    replay: str | None = None  # JSONL of recorded RTDS frames (see replay.py)
    replay_delay_s: float = Field(0, ge=0)  # when the first recorded frame goes out
    replay_shift: bool = False  # move the recording to now: timestamps and 15-minute slugs (replay.py)

    @model_validator(mode="after")
    def _names_known(self) -> "Scenario":
        assets = [s.asset for s in self.series]
        outcomes = {m.slug: m.outcomes for m in self.markets}
        if len(set(assets)) != len(assets) or len(outcomes) != len(self.markets):
            raise ValueError("series assets and market slugs must be unique")
        for group in ("fills", "bursts", "books", "activity"):
            for i, item in enumerate(getattr(self, group)):
                ref = re.sub(r"[+-]\d+$", "", item.market)
                known = outcomes.get(item.market) or (["Up", "Down"] if ref in assets else None)
                if known is None:
                    raise ValueError(f"{group}.{i}.market: unknown market {item.market!r}")
                if getattr(item, "outcome", known[0]) not in known:
                    raise ValueError(f"{group}.{i}.outcome: {item.outcome!r} not in {known}")
        for ref, winner in self.resolution.winners.items():
            known = outcomes.get(ref) or (["Up", "Down"] if ref in assets else None)
            if known is None or winner not in known:
                raise ValueError(f"resolution.winners.{ref}: unknown market or outcome {winner!r}")
        return self


def parse(data: dict | None, origin: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors())
        raise ScenarioError(f"{origin}: {problems}") from None


def load(path: str | Path | None = None) -> Scenario:
    """Load a scenario file; the packaged default when `path` is None."""
    path = Path(path) if path else DEFAULT_PATH
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise ScenarioError(f"{path}: the top level must be a mapping")
    scenario = parse(data, str(path))
    if scenario.replay and not Path(scenario.replay).is_absolute():
        scenario = scenario.model_copy(update={"replay": str(path.parent / scenario.replay)})
    return scenario
