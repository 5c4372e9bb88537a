"""Every type that crosses an actor boundary.

Frozen, slotted, keyword-only dataclasses at module level so they pickle across processes.
Money, prices and sizes are `Decimal`. Each message has a constant-size `__repr__`: Thespian
formats messages eagerly in its debug logging, and a long repr costs milliseconds per hop.
Commands are verbs (`PlaceOrder`), events are past tense (`FillSeen`).

Long because it is the one catalogue of the types that cross a process boundary: one file tells
what the actors say to each other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

_msg = dataclass(frozen=True, slots=True, kw_only=True, repr=False)


class Message:
    """Base: short repr, never the payload."""

    __slots__ = ()

    def __repr__(self) -> str:
        key = getattr(self, "key", None) or getattr(self, "intent_id", None) or getattr(self, "reason", None)
        return f"{type(self).__name__}({key})" if key else f"{type(self).__name__}()"

    __str__ = __repr__


# ---------------------------------------------------------------- wiring and control


@_msg
class Init(Message):
    """Supervisor -> child, once after creation: config, peers, and the child's key."""

    config: Any  # polycopy.config.Config (pydantic, frozen)
    peers: dict = field(default_factory=dict)  # role -> ActorAddress
    key: str = ""  # e.g. token id for a coalescer
    kill_switch_tripped: bool = False
    entries_paused: str = ""  # why no position may be opened now ("" = entries open)


@_msg
class Peers(Message):
    """Supervisor -> children: addresses changed (a restart gives a new address)."""

    peers: dict  # role -> ActorAddress (coalescers under "coalescer:<token>")


@_msg
class Ping(Message):
    nonce: int = 0


@_msg
class Pong(Message):
    role: str
    key: str = ""
    pid: int = 0
    nonce: int = 0


@_msg
class Shutdown(Message):
    """Operator or runner -> supervisor: stop everything cleanly. Replied with ShutdownDone."""

    reason: str = "manual"


@_msg
class ShutdownDone(Message):
    reason: str = ""


@_msg
class StatusRequest(Message):
    pass


@_msg
class StatusReply(Message):
    status: dict  # JSON-ready


@_msg
class TripKillSwitch(Message):
    """Any actor or the operator -> supervisor. Stops new orders; watchers keep running."""

    reason: str
    source: str = ""


@_msg
class ResetKillSwitch(Message):
    """Operator only (run.py --reset-kill)."""

    reason: str = "operator reset"


@_msg
class KillSwitchChanged(Message):
    """Supervisor -> every child and the requester."""

    tripped: bool
    reason: str = ""


@_msg
class PauseEntries(Message):
    """Operator -> supervisor: open no new positions (closing trades and redemptions still go).
    Persisted like the kill switch, until ResumeEntries."""

    reason: str = "paused by the operator"
    source: str = ""


@_msg
class ResumeEntries(Message):
    """Operator -> supervisor: lift the operator's pause (not a venue's close-only mode)."""

    source: str = ""


@_msg
class CloseOnly(Message):
    """Executor -> supervisor: the venue refused an order for a standing reason that forbids opening
    positions from here (a region 403). Holds for this run; a restart probes the venue again."""

    reason: str  # e.g. "region_close_only"
    detail: str = ""


@_msg
class EntriesChanged(Message):
    """Supervisor -> every child and the requester: why entries are paused now ("" = open)."""

    reason: str = ""


@_msg
class ReloadConfig(Message):
    """Runner -> supervisor -> children: a validated new policy (SIGHUP or file change)."""

    config: Any


@_msg
class EnsureCoalescer(Message):
    """Intake or catalog -> supervisor: create the coalescer for a token if it does not exist."""

    key: str  # token id
    condition_id: str = ""
    end_ts: int = 0  # market end (unix s); the coalescer is retired after it


@_msg
class NeedMarketFacts(Message):
    """Any actor -> catalog: fetch and push the facts of this token's market."""

    key: str  # token id
    condition_id: str = ""
    slug: str = ""


@_msg
class RetireCoalescer(Message):
    key: str  # token id


@_msg
class ChildFailed(Message):
    """A child reports a failure it could not handle (counted towards the kill switch)."""

    role: str
    reason: str


# ---------------------------------------------------------------- markets


@_msg
class Market(Message):
    """One market's facts, resolved once by the catalog (Gamma, plus the CLOB's tick size), and
    carried inside the messages that need them: routed fills, intents, approved intents. No actor
    derives a market's end, tick or minimum itself."""

    condition_id: str
    token_ids: tuple
    outcomes: tuple
    end_ts: int  # unix seconds (policy/markets.py `market_end`); 0 = the venue does not say
    tick_size: Decimal
    min_order_size: Decimal  # shares
    neg_risk: bool
    version: str = "v1"  # "v1" -> exchange domain "2"; "v2" -> ExchangeV3, domain "3"
    slug: str = ""
    title: str = ""  # the venue's question, for people
    fee_rate_bps: int = 0
    accepting_orders: bool = True

    @property
    def key(self) -> str:
        return self.condition_id

    def outcome_of(self, token_id: str) -> str:
        """The outcome name of one of this market's tokens ("" if not one of them)."""
        ids = [str(t) for t in self.token_ids]
        return str(self.outcomes[ids.index(token_id)]) if token_id in ids and len(self.outcomes) == len(ids) else ""




# ---------------------------------------------------------------- detection


@_msg
class SourceFill(Message):
    """One fill of the source wallet, normalised from any feed."""

    key: str  # dedupe key: tx|token|side|price|size|occurrence (set by the watcher)
    source_wallet: str  # lowercase
    condition_id: str
    token_id: str
    outcome: str
    side: str  # "BUY" | "SELL"
    price: Decimal
    size: Decimal  # shares
    tx_hash: str
    source_ts_ms: int  # the source's own timestamp (fill/block time), ms
    feed: str  # "rtds" | "backstop" | "mempool" | "reconcile"
    recv_mono_ns: int  # time.monotonic_ns() at receipt of the frame
    envelope_ts_ms: int = 0  # feed envelope timestamp, where there is one
    slug: str = ""
    provisional: bool = False  # mempool: not yet settled
    order_hash: str = ""  # mempool: the source's signed order hash


@_msg
class FillBatch(Message):
    """Watcher -> intake, intake -> coalescer: a burst travels as one message."""

    fills: tuple  # tuple[SourceFill, ...]
    sent_ns: int = 0  # monotonic ns when the sender sent it (stage timings)
    market: Market | None = None  # intake -> coalescer: the fills' market (one token per batch)

    def __repr__(self) -> str:
        return f"FillBatch(n={len(self.fills)})"


@_msg
class FeedHealth(Message):
    """Watcher -> telemetry/supervisor, on change and periodically."""

    feed: str
    connected: bool
    silence_s: float
    reconnects: int = 0
    malformed: int = 0
    circuit_open: bool = False
    detail: str = ""
    key: str = ""


# ---------------------------------------------------------------- decision


@_msg
class CopyIntent(Message):
    """Coalescer -> risk: copy this much of the source's net trade on one token."""

    intent_id: str
    token_id: str
    condition_id: str
    side: str  # "BUY" | "SELL"
    size: Decimal  # shares, sized by policy
    source_price: Decimal  # size-weighted price of the covered fills
    source_size: Decimal  # net source shares covered
    fill_keys: tuple  # keys of the SourceFills this intent covers
    first_recv_mono_ns: int  # receive time of the first covered fill
    source_ts_ms: int = 0  # source timestamp of the first covered fill
    reason: str = ""  # "leading" | "trailing" | "fill" | "reconcile"
    opening: bool = True  # adds to our position (closing trades pass the near-expiry cutoff)
    market: Market | None = None  # None: unknown, and risk refuses it (nothing can be signed without it)

    @property
    def slug(self) -> str:
        return self.market.slug if self.market is not None else ""


@_msg
class ApprovedIntent(Message):
    """Risk -> executor: approved (possibly clipped) intent; exposure is reserved."""

    intent: CopyIntent
    size: Decimal  # approved shares (<= intent.size)
    max_notional_usd: Decimal  # reserved notional
    decision: str  # "approved" | "clipped"
    reason: str = ""

    @property
    def intent_id(self) -> str:
        return self.intent.intent_id


@_msg
class IntentBatch(Message):
    """Coalescer -> risk: the intents one wake-up emitted, decided in order (a single intent travels
    as itself)."""

    intents: tuple[CopyIntent, ...]

    def __repr__(self) -> str:
        return f"IntentBatch(n={len(self.intents)})"


@_msg
class ApprovedBatch(Message):
    """Risk -> executor: the approvals of one wake-up, reserved in one commit, placed in order (a
    single approval travels as itself)."""

    items: tuple[ApprovedIntent, ...]

    def __repr__(self) -> str:
        return f"ApprovedBatch(n={len(self.items)})"


@_msg
class RiskDecision(Message):
    """Risk -> telemetry/coalescer: the verdict for every intent, with its reason."""

    intent_id: str
    decision: str  # "approved" | "clipped" | "rejected"
    reason: str
    size: Decimal = Decimal(0)
    source_size: Decimal = Decimal(0)  # net source shares the intent covers (copy fidelity)


# ---------------------------------------------------------------- execution


@_msg
class OrderOutcome(Message):
    """Executor -> risk (settles the reservation) and telemetry."""

    intent_id: str
    order_id: str
    status: str  # "filled" | "partial" | "rejected" | "unknown" | "not_sent"
    filled_size: Decimal
    filled_notional_usd: Decimal
    reason: str = ""
    token_id: str = ""
    condition_id: str = ""
    side: str = ""


# ---------------------------------------------------------------- capital


@_msg
class BalanceSeen(Message):
    """Ledger or redeemer -> risk: the venue's pUSD balance (and the smallest exchange allowance),
    as read by a request sent at `asked_mono_ns` (monotonic ns, system-wide on Linux). Risk keeps the
    newest reading and counts against it only what it settled after that instant (policy/balance.py)."""

    balance_usd: Decimal
    asked_mono_ns: int
    allowance_usd: Decimal | None = None  # None: the venue did not say
    source: str = ""  # "ledger" | "redeemer"


@_msg
class RefreshBalance(Message):
    """Redeemer -> ledger: a payout landed; read the venue balance now (risk learns the credit from it)."""

    reason: str = ""


@_msg
class Redeemed(Message):
    """Redeemer -> ledger: a redemption, merge or lost close-out reached a terminal state."""

    condition_id: str
    kind: str  # "redeem" | "merge" | "lost"
    state: str  # "done" | "failed"
    credited_usd: Decimal = Decimal(0)
    detail: str = ""

    @property
    def key(self) -> str:
        return self.condition_id


@_msg
class CapitalReport(Message):
    """Ledger -> telemetry: balance, redemptions and PnL for `--status`, metrics and the live view."""

    report: dict  # JSON-ready

    def __repr__(self) -> str:
        return "CapitalReport()"


# ---------------------------------------------------------------- telemetry


@_msg
class StageTiming(Message):
    """Any actor -> telemetry: stage timestamps of one copy, joined by correlation id."""

    key: str  # correlation id: the first source fill's key
    stages: tuple  # ((stage, monotonic_ns), ...)
    source_ts_ms: int = 0


@_msg
class Reports(Message):
    """Any actor -> telemetry: the reports (StageTiming, RiskDecision, OrderOutcome, ...) gathered
    since the last one, sent once the hot path is quiet (ChildActor.report)."""

    items: tuple

    def __repr__(self) -> str:
        return f"Reports(n={len(self.items)})"


@_msg
class Alert(Message):
    condition: str
    text: str
    resolved: bool = False
    key: str = ""


@_msg
class TelemetrySnapshot(Message):
    """Telemetry -> supervisor, about once a second: counters and latency quantiles (JSON-ready)."""

    snapshot: dict


@_msg
class FeedStats(Message):
    """Intake -> telemetry, periodically: what each feed delivered, per feed (lags in ms)."""

    feed: str
    first_seen: int  # fills this feed delivered before any other
    duplicates: int  # fills already known when this feed delivered them
    stale: int = 0  # new fills too old to copy at start (recorded only)
    unconfirmed: int = 0  # repeats only this feed reported (not copied until the backstop lists them)
    invalid: int = 0  # fills intake refused to store (an implausible value: policy/fills.py)
    lag_source_ms_p50: float = 0.0  # receive wall time - source timestamp
    lag_source_ms_max: float = 0.0
    lag_envelope_ms_p50: float = 0.0  # receive wall time - envelope timestamp (RTDS only)
    lag_envelope_ms_max: float = 0.0

    @property
    def key(self) -> str:
        return self.feed


# ---------------------------------------------------------------- reconciliation


@_msg
class ReconcileStats(Message):
    """Reconciler -> telemetry, after each round: rounds so far and what they did, by cause
    ("correction:missed_fill", "skip:refused:region_restricted", ...)."""

    rounds: int
    counts: tuple  # ((cause, count), ...)

    def __repr__(self) -> str:
        return f"ReconcileStats(rounds={self.rounds})"


@_msg
class PositionsSnapshot(Message):
    """Reconciler -> executor: what do our own orders hold? Answered with PositionsReply."""

    request_id: str


@_msg
class PositionsReply(Message):
    """Executor -> reconciler: shares held per token from our own orders (paper or live)."""

    request_id: str
    positions: tuple  # ((token_id, Decimal shares), ...); tokens held at 0 may be left out
    complete: bool = True  # False: the executor is still recovering; the reconciler skips the round
    mode: str = ""  # "paper" | "live" | "dry_run"

    def __repr__(self) -> str:
        return f"PositionsReply(n={len(self.positions)})"
