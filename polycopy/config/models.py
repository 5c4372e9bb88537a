"""The policy file, as frozen pydantic models. Units are in the names; a typo is an error.

Every number has both bounds: a duration or count far outside any sane run (`ping_interval_ms:
1e20`) is refused here instead of breaking an actor later. Money tops out at a billion dollars
so no arithmetic on it can overflow. Rules between fields live in `rules.py`.
"""
from __future__ import annotations

from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from polycopy.config import checks

MAX_USD = Decimal("1e9")
PositiveUsd = Annotated[Decimal, Field(gt=0, le=MAX_USD)]
NonNegUsd = Annotated[Decimal, Field(ge=0, le=MAX_USD)]
Shares = Annotated[Decimal, Field(ge=0, le=MAX_USD)]
DAY_S = 86_400


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Mode(str, Enum):
    dry_run = "dry_run"
    paper = "paper"
    live = "live"


class CopyConfig(Section):
    source_wallet: str = "0x1d0034134e339a309700ff2d34e99fa2d48b0313"
    copy_mode: Literal["fill_by_fill", "intent_net"] = "intent_net"
    coalesce_ms: Annotated[int, Field(ge=0, le=10_000)] = 300
    burst_horizon_ms: Annotated[int, Field(gt=0, le=60_000)] = 2000
    net_opposite_trades: bool = True
    leading_order: Literal["immediate", "after_window"] = "immediate"  # a burst's first order: at once, or net after coalesce_ms
    copy_pending_fills: bool = False  # mempool fills before settlement (opt-in)
    mempool_confirm_timeout_s: Annotated[float, Field(gt=0, le=600)] = 60.0  # a provisional fill unconfirmed this long is stale
    pending_revert_policy: Literal["hold", "unwind"] = "hold"  # our copy of a provisional fill that failed
    max_fill_age_at_start_s: Annotated[int, Field(ge=0, le=DAY_S)] = 60  # older fills found at start are recorded, not copied
    market_facts_wait_ms: Annotated[int, Field(ge=0, le=30_000)] = 5000  # a new market's first fills wait this long for the catalog

    @field_validator("source_wallet")
    @classmethod
    def _address(cls, v: str) -> str:
        return checks.address(v)


class SizingConfig(Section):
    mode: Literal["fixed", "proportional", "capped_proportional"] = "capped_proportional"
    size_multiplier: Annotated[Decimal, Field(gt=0, le=1000)] = Decimal("1.0")
    fixed_notional_usd: PositiveUsd = Decimal("5")
    min_order_notional_usd: NonNegUsd = Decimal("1")
    max_notional_per_order_usd: PositiveUsd = Decimal("25")
    max_notional_per_market_usd: PositiveUsd = Decimal("150")
    max_total_notional_per_15m_window_usd: PositiveUsd = Decimal("400")
    size_tolerance_shares: Shares = Decimal("1")
    assumed_min_order_size_shares: Shares = Decimal("5")  # until the market says otherwise


class ExecutionConfig(Section):
    mode: Mode = Mode.dry_run
    order_type: Literal["marketable_limit"] = "marketable_limit"
    time_in_force: Literal["FAK", "FOK"] = "FAK"
    max_slippage_bps: Annotated[int, Field(ge=0, le=5000)] = 120
    max_slippage_ticks: Annotated[int, Field(ge=0, le=100)] = 2  # the limit moves by the larger of bps and ticks
    max_buy_price: Optional[Annotated[Decimal, Field(gt=0, lt=1)]] = None  # a BUY never pays more
    min_sell_price: Optional[Annotated[Decimal, Field(gt=0, lt=1)]] = None  # a SELL never takes less
    near_expiry_cutoff_seconds: Annotated[int, Field(ge=0, le=3600)] = 25
    post_timeout_ms: Annotated[int, Field(gt=0, le=60_000)] = 2500
    heartbeats: bool = True  # order heartbeats in live mode
    unconfirmed_fill_alert_s: Annotated[int, Field(gt=0, le=DAY_S)] = 120
    repost_window_s: Annotated[float, Field(gt=0, le=120)] = 10.0  # an unplaced order may be re-sent (same bytes) this long after signing
    max_posts_per_order: Annotated[int, Field(ge=1, le=10)] = 3
    max_park_s: Annotated[float, Field(gt=0, le=600)] = 30.0  # a copy waiting out a venue back-off (429/425/503) is dropped after this
    heartbeat_interval_s: Annotated[float, Field(gt=0, le=30)] = 5.0
    heartbeat_timeout_ms: Annotated[int, Field(gt=0, le=5000)] = 1000  # short: the call runs on the executor's thread
    retry_check_ms: Annotated[int, Field(ge=50, le=60_000)] = 500  # how often parked (425/429/503) and unknown orders are revisited
    book_from_ws: bool = True  # price from books kept by the market websocket; REST /book when not available


class RiskConfig(Section):
    max_daily_volume_usd: PositiveUsd = Decimal("2000")
    max_portfolio_notional_usd: PositiveUsd = Decimal("1000")
    clip_to_room: bool = True  # clip an intent to the room left instead of rejecting it
    blacklist_markets: tuple[str, ...] = ()  # condition ids or slugs
    blacklist_outcomes: tuple[str, ...] = ()  # token ids or outcome names
    kill_after_child_failures: Annotated[int, Field(gt=0, le=1000)] = 5
    kill_failure_window_s: Annotated[int, Field(gt=0, le=DAY_S)] = 60
    kill_error_rate: Annotated[float, Field(gt=0, le=1)] = 0.5  # order failures / orders
    kill_p95_internal_ms: Annotated[float, Field(gt=0, le=3_600_000)] = 2000.0  # work, not the burst hold
    kill_window_s: Annotated[int, Field(gt=0, le=DAY_S)] = 300
    kill_min_orders: Annotated[int, Field(gt=0, le=1_000_000)] = 30


class DetectionConfig(Section):
    rtds_ping_interval_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    rtds_silence_limit_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    reconnect_min_ms: Annotated[int, Field(gt=0, le=60_000)] = 250
    reconnect_max_ms: Annotated[int, Field(gt=0, le=600_000)] = 30_000
    circuit_breaker_failures: Annotated[int, Field(gt=0, le=1000)] = 8
    circuit_breaker_cooldown_s: Annotated[float, Field(gt=0, le=3600)] = 120.0
    http_poll_interval_ms: Annotated[int, Field(ge=50, le=60_000)] = 1000
    http_timeout_ms: Annotated[int, Field(gt=0, le=60_000)] = 3000
    backstop_page_limit: Annotated[int, Field(gt=0, le=500)] = 100
    backstop_lookback_s: Annotated[int, Field(gt=0, le=3600)] = 120  # re-list this far below the newest fill seen
    record_path: Optional[Path] = None  # run.py --record FILE: append the raw source feed here (JSONL)


class VenueConfig(Section):
    clob_url: str = "https://clob.polymarket.com"
    rtds_url: str = "wss://ws-live-data.polymarket.com"
    data_api_url: str = "https://data-api.polymarket.com"
    gamma_url: str = "https://gamma-api.polymarket.com"
    clob_ws_market_url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    clob_ws_user_url: str = "wss://ws-subscriptions-clob.polymarket.com/ws/user"
    polygon_ws_url: Optional[str] = None  # mempool fast path; off when unset
    chain_id: Annotated[int, Field(gt=0, le=2**32)] = 137
    geoblock_url: str = "https://polymarket.com/api/geoblock"  # checked by --healthcheck and at a live start
    geoblock_tier_overrides: dict[str, Annotated[int, Field(ge=1, le=3)]] = {}  # "NL": 3, "CA-ON": 2 (config/geoblock.yaml)
    relayer_url: str = "https://relayer-v2.polymarket.com"  # gasless redemption (proxy, Safe, deposit wallet)
    polygon_rpc_url: str = "https://polygon.drpc.org"  # JSON-RPC over HTTP: EOA redemption, gas estimates (the SDK's default)


class ReconcileConfig(Section):
    enabled: bool = True
    reconcile_interval_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    tolerance_shares: Shares = Decimal("1")  # drift at or under this is left alone
    max_correction_notional_usd: PositiveUsd = Decimal("25")  # one corrective intent at most; risk's caps still apply
    settle_s: Annotated[float, Field(ge=0, le=600)] = 20.0  # leave a token alone this long after either side traded it
    adopt_existing_positions: bool = False  # copy positions the source already held at start
    http_timeout_ms: Annotated[int, Field(gt=0, le=30_000)] = 3000


class CapitalConfig(Section):
    """The pUSD balance as state (actors/ledger.py, risk) and the profit and loss."""

    balance_poll_s: Annotated[float, Field(ge=1, le=3600)] = 30.0  # GET /balance-allowance this often (live)
    low_balance_alert_usd: NonNegUsd = Decimal("50")  # alert while the venue balance is below this
    fee_reserve_bps: Annotated[int, Field(ge=0, le=5000)] = 700  # a BUY needs notional x (1 + this) of pUSD: the taker fee's bound
    pnl_interval_s: Annotated[float, Field(ge=1, le=3600)] = 60.0  # PnL recomputed this often (Data API reads)
    http_timeout_ms: Annotated[int, Field(gt=0, le=30_000)] = 3000


class RedeemConfig(Section):
    """Resolved positions back into pUSD (actors/redeemer.py), through the official SDK."""

    enabled: bool = True
    interval_s: Annotated[float, Field(ge=1, le=3600)] = 30.0  # look for redeemable positions this often
    delay_after_resolution_s: Annotated[float, Field(ge=0, le=DAY_S)] = 30.0  # wait this long after first seeing one redeemable
    batch_size: Annotated[int, Field(ge=1, le=100)] = 5  # redemptions started per round at most
    merge: bool = False  # merge complementary holdings (YES + NO -> pUSD) of markets that stopped trading
    pending_alert_s: Annotated[float, Field(gt=0, le=DAY_S)] = 600.0  # a redemption unresolved this long raises an alert
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3  # failed submissions of one redemption before it is left to the operator
    retry_after_s: Annotated[float, Field(ge=1, le=DAY_S)] = 120.0  # wait between attempts
    eoa_max_gas_price_gwei: Annotated[Decimal, Field(gt=0, le=100_000)] = Decimal("500")  # EOA: defer while gas costs more
    eoa_min_payout_usd: NonNegUsd = Decimal("1")  # EOA: do not pay gas for less than this
    poll_ms: Annotated[int, Field(ge=10, le=60_000)] = 2000  # how often a submitted transaction is polled (SDK: 2000)
    max_polls: Annotated[int, Field(ge=1, le=10_000)] = 100  # polls before the SDK's wait gives up (then: followed by balance)
    http_timeout_ms: Annotated[int, Field(gt=0, le=30_000)] = 5000


class StoreConfig(Section):
    path: Path = Path("state/polycopy.sqlite")
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"  # but the kill switch and the commits a POST follows: FULL (store/db.py)


class AlertsConfig(Section):
    # The alert destinations (apprise URLs carry tokens) come from POLYCOPY_ALERT_URLS in the environment.
    cooldown_s: Annotated[int, Field(gt=0, le=DAY_S)] = 300
    feed_silent_s: Annotated[int, Field(gt=0, le=DAY_S)] = 60
    reject_burst: Annotated[int, Field(gt=0, le=10_000)] = 5  # this many venue rejects ...
    reject_window_s: Annotated[int, Field(gt=0, le=DAY_S)] = 60  # ... inside this window raise an alert


class TelemetryConfig(Section):
    log_path: Path = Path("state/polycopy.log")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "human", "json"] = "auto"  # stdout; auto: human on a terminal, JSON otherwise

    @model_validator(mode="before")
    @classmethod
    def _older_key(cls, data):
        """`log_json_stdout` (before log_format): true = json, false = human; not both."""
        if isinstance(data, dict) and "log_json_stdout" in data:
            data = dict(data)
            old = data.pop("log_json_stdout")
            if "log_format" in data:
                raise ValueError("give log_format only (log_json_stdout is its older name)")
            if isinstance(old, bool):
                data["log_format"] = "json" if old else "human"
            else:
                data["log_format"] = old  # not a bool: refused below with the key's allowed values
        return data
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9464  # 0 = off
    log_rotate_mb: Annotated[int, Field(gt=0, le=100_000)] = 50
    log_keep_files: Annotated[int, Field(ge=1, le=1000)] = 10
    write_csv: bool = True  # target_trades.csv / target_positions.csv in dry_run and paper modes
    max_clock_skew_s: Annotated[float, Field(gt=0, le=600)] = 2.0  # --healthcheck against the CLOB's /time
    alerts: AlertsConfig = AlertsConfig()


class ActorsConfig(Section):
    system_base: Literal["multiprocTCPBase"] = "multiprocTCPBase"
    admin_port: Annotated[int, Field(ge=1024, le=65535)] = 19410
    ping_interval_ms: Annotated[int, Field(ge=50, le=60_000)] = 500
    pong_timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = 15000  # a busy actor answers late
    restart_backoff_min_ms: Annotated[int, Field(ge=0, le=60_000)] = 100
    restart_backoff_max_ms: Annotated[int, Field(gt=0, le=600_000)] = 10_000


class Config(Section):
    copy_: CopyConfig = Field(default=CopyConfig(), alias="copy")
    sizing: SizingConfig = SizingConfig()
    execution: ExecutionConfig = ExecutionConfig()
    risk: RiskConfig = RiskConfig()
    detection: DetectionConfig = DetectionConfig()
    venue: VenueConfig = VenueConfig()
    reconcile: ReconcileConfig = ReconcileConfig()
    capital: CapitalConfig = CapitalConfig()
    redeem: RedeemConfig = RedeemConfig()
    store: StoreConfig = StoreConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    actors: ActorsConfig = ActorsConfig()

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @property
    def copy(self) -> CopyConfig:  # noqa: A003 - the YAML section is called `copy`
        return self.copy_

    @property
    def mode(self) -> Mode:
        return self.execution.mode
