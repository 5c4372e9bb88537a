"""The contract between polysim's parts: market definitions and runtime fault knobs.

The venue (CLOB REST + websockets, `polycopy/sim/venue/`) and the feeds (RTDS, Data API,
Gamma, scenario driver) both read these. Keep it small; behaviour lives elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class SimMarket:
    """One binary market. `tokens[i]` is the asset id of `outcomes[i]`."""

    condition_id: str  # 0x + 64 hex
    question: str
    slug: str
    event_slug: str
    tokens: list[str]  # decimal uint256 strings (CTF token ids, or V2 position ids)
    outcomes: list[str]  # e.g. ["Up", "Down"]
    start_ts: int  # unix seconds
    end_ts: int  # unix seconds
    tick_size: Decimal = Decimal("0.01")
    min_order_size: Decimal = Decimal("5")
    neg_risk: bool = False
    version: str = "v1"  # Gamma `version`: "v1" -> domain "2"; "v2" -> positionIds, domain "3"
    accepting_orders: bool = True
    closed: bool = False
    fee_rate: Decimal = Decimal("0")  # `fd.r` of /clob-markets: fee = shares*r*(p(1-p))^e
    fee_exponent: int = 1  # `fd.e`
    payouts: tuple[Decimal, ...] | None = None  # per outcome, once resolved (resolution.py)
    resolved_ts: int | None = None  # unix seconds of the resolution

    @property
    def resolved(self) -> bool:
        return self.payouts is not None

    def outcome_of(self, token_id: str) -> str:
        return self.outcomes[self.tokens.index(token_id)]


@dataclass
class VenueFaults:
    """Knobs a scenario or a test flips at run time (monotonic deadlines, seconds)."""

    rate_limit_until: float = 0.0  # 429 on every CLOB call until then
    retry_after_s: int | None = None  # a 429's Retry-After; None: the seconds left in the window, rounded up
    engine_restart_until: float = 0.0  # 425 on order calls
    post_only_until: float = 0.0  # 503 post_only_mode on marketable orders
    post_delay_ms: int = 0  # hold POST /order responses this long (after accepting)
    drop_post_response: bool = False  # accept the order, then close the connection
    settlement_fails: bool = False  # user-channel trades go MATCHED -> FAILED
    region: str = "open"  # geoblock enforcement on POST /order: open | close_only | blocked


@dataclass
class FeedFaults:
    """Knobs for the source feeds."""

    rtds_stalled: bool = False  # keep sockets open, send nothing
    rtds_drop_now: bool = False  # close every RTDS socket once, then clear
    data_api_rate_limit_until: float = 0.0  # 429 with Retry-After on Data API calls
    data_api_lag_ms: int = 0  # a trade is visible on the Data API this long after the fill
    rtds_lag_ms: int = 0  # RTDS frames go out this long after the fill
    data_api_timeout_until: float = 0.0  # v2: 503 request_timeout until then
    data_api_hostile: list = field(default_factory=list)  # hostile.ROW_KINDS mixed into rows
    rtds_duplicate: dict = field(default_factory=dict)  # RTDS type -> share of frames sent twice
    rtds_malformed_share: float = 0.0  # chance a hostile frame follows each good one
    rtds_malformed_kinds: list = field(default_factory=list)  # hostile.FRAME_KINDS, cycled
    extra: dict = field(default_factory=dict)


@dataclass
class Legacy:
    """Retired routes served again (for old recordings); False = 410 Gone (the venue now)."""

    data_api_v1: bool = False
    gamma_lists: bool = False
