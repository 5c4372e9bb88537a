"""Prometheus metrics, owned by the telemetry actor: its own registry, served on 127.0.0.1 only.

The HTTP endpoint runs in prometheus-client's daemon thread inside the telemetry process (which
never creates actors, so a thread is allowed there). Latencies are in seconds, as Prometheus
expects; the snapshot for `--status` keeps milliseconds. `deploy/prometheus/rules.yml` and
`deploy/grafana/polycopy.json` use these names (tests/unit/test_deploy.py checks them).

A gauge whose value is not known yet (balance, close-only) holds NaN: Prometheus stores it, and
every PromQL comparison with NaN is false, so no alert fires on a value nobody has measured.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

from polycopy.config.models import Mode

LOOPBACK = "127.0.0.1"
FAST = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)  # internal work
SLOW = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)  # feed and copy delays
BPS = (-200, -100, -50, -20, -10, 0, 10, 20, 50, 100, 200, 500)
PNL_BOOKS = ("ours", "ours_realised", "ours_unrealised", "source", "source_realised", "source_unrealised",
             "tracking_error")  # polycopy_pnl_usd{book}: "ours" and "source" are the totals


class Metrics:
    def __init__(self):
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.copy_delay = Histogram("polycopy_copy_delay_seconds", "order sent - source fill time", registry=r,
                                    buckets=SLOW)
        self.detection_lag = Histogram("polycopy_detection_lag_seconds", "fill received - source fill time",
                                       registry=r, buckets=SLOW)
        self.internal = Histogram("polycopy_internal_latency_seconds", "order sent - fill received", registry=r,
                                  buckets=FAST)
        self.stage = Histogram("polycopy_stage_seconds", "time from fill received to each stage", ["stage"],
                               registry=r, buckets=FAST)
        self.orders = Counter("polycopy_orders", "order outcomes", ["outcome"], registry=r)
        self.rejects = Counter("polycopy_order_rejects", "venue rejects and unsent orders by reason", ["reason"],
                               registry=r)
        self.risk = Counter("polycopy_risk_decisions", "risk decisions", ["decision", "reason"], registry=r)
        self.slippage = Histogram("polycopy_slippage_bps", "fill price vs source price, bps (positive = worse)",
                                  registry=r, buckets=BPS)
        self.feed_connected = Gauge("polycopy_feed_connected", "1 if the feed is connected", ["feed"], registry=r)
        self.feed_silence = Gauge("polycopy_feed_silence_seconds", "seconds since the feed last delivered data",
                                  ["feed"], registry=r)
        self.feed_reconnects = Gauge("polycopy_feed_reconnects", "reconnects so far", ["feed"], registry=r)
        self.feed_circuit = Gauge("polycopy_feed_circuit_open", "1 while the feed's circuit breaker is open",
                                  ["feed"], registry=r)
        self.feed_first = Gauge("polycopy_feed_first_seen", "fills this feed delivered first", ["feed"], registry=r)
        self.kill_switch = Gauge("polycopy_kill_switch_tripped", "1 while the kill switch is tripped", registry=r)
        self.alerts = Counter("polycopy_alerts", "alerts raised by condition", ["condition"], registry=r)
        # Is it copying? Every copy intent once by how it ended; the source's own fills beside it.
        self.copies = Counter("polycopy_copies", "copy intents by outcome (filled, partial, rejected, unknown, "
                              "not_sent, dry_run; skipped = refused by risk) and reason", ["outcome", "reason"],
                              registry=r)
        # Unlabelled, so it is there at 0 from the start and increase() sees the first copy.
        self.copies_placed = Counter("polycopy_copies_placed", "orders filled or partly filled, and dry-run orders",
                                     registry=r)
        self.venue_rejects = Counter("polycopy_venue_rejects", "orders the venue refused, by reason", ["reason"],
                                     registry=r)
        self.source_fills = Counter("polycopy_source_fills", "distinct fills of the source wallet seen", registry=r)
        # Money and trading state.
        self.balance = Gauge("polycopy_balance_usd", "pUSD balance of the funder wallet (NaN until known)", registry=r)
        self.pnl = Gauge("polycopy_pnl_usd", "profit and loss, realised and marked, USD", ["book"], registry=r)
        self.entries_paused = Gauge("polycopy_entries_paused", "1 while no new positions are opened (close-only), "
                                    "NaN until known", registry=r)
        self.trading_mode = Gauge("polycopy_trading_mode", "1 for the execution mode in force", ["mode"], registry=r)
        self.balance.set(math.nan)
        self.entries_paused.set(math.nan)
        self._first_seen: dict[str, int] = {}
        self._server = None

    # ------------------------------------------------------------ endpoint

    def serve(self, port: int) -> int:
        """Start the endpoint on 127.0.0.1:port (0 = off). Returns the port bound, or 0."""
        if port == 0 or self._server is not None:
            return 0
        self._server, _thread = start_http_server(port, addr=LOOPBACK, registry=self.registry)
        return self._server.server_address[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def text(self) -> str:
        return generate_latest(self.registry).decode()

    # ------------------------------------------------------------ updates

    def decision(self, decision: str, reason: str) -> None:
        self.risk.labels(decision, reason or "-").inc()
        if decision == "rejected":
            self.copies.labels("skipped", reason or "-").inc()

    def outcome(self, status: str, reason: str) -> None:
        """One order outcome (a redelivery already filtered out by the caller)."""
        reason = reason or "-"
        self.orders.labels(status).inc()
        if status in ("rejected", "not_sent"):
            self.rejects.labels(reason).inc()
        if status == "rejected":
            self.venue_rejects.labels(reason).inc()
        dry_run = status == "not_sent" and reason == "dry_run"
        self.copies.labels("dry_run" if dry_run else status, reason).inc()
        if dry_run or status in ("filled", "partial"):
            self.copies_placed.inc()

    def capital(self, report: dict) -> None:
        """The ledger's report: the venue balance, and PnL by book (PNL_BOOKS)."""
        if report.get("balance_usd") is not None:
            self.balance.set(float(report["balance_usd"]))
        for book in PNL_BOOKS:
            key = f"{book}_total" if book in ("ours", "source") else book
            if key in (report.get("pnl") or {}):
                self.pnl.labels(book).set(float(report["pnl"][key]))

    def feed_stats(self, feed: str, first_seen: int) -> None:
        """Intake's running count of fills each feed delivered first, turned into a counter."""
        prev = self._first_seen.get(feed, 0)
        self._first_seen[feed] = first_seen
        self.feed_first.labels(feed).set(first_seen)
        self.source_fills.inc(first_seen - prev if first_seen >= prev else first_seen)  # a new intake counts from 0

    def mode(self, mode: str) -> None:
        for m in Mode:
            self.trading_mode.labels(m.value).set(1 if m.value == mode else 0)

    def feed(self, name: str, *, connected: bool, silence_s: float, reconnects: int, circuit_open: bool) -> None:
        self.feed_connected.labels(name).set(1 if connected else 0)
        self.feed_silence.labels(name).set(silence_s)
        self.feed_reconnects.labels(name).set(reconnects)
        self.feed_circuit.labels(name).set(1 if circuit_open else 0)


class Window:
    """Recent values with their time, for quantiles over the last `span_s` seconds."""

    def __init__(self, span_s: float, maxlen: int = 5000):
        self.span_s = span_s
        self.items: deque = deque(maxlen=maxlen)

    def add(self, value: float, now: float | None = None) -> None:
        self.items.append((time.monotonic() if now is None else now, value))

    def values(self, now: float | None = None) -> list[float]:
        cutoff = (time.monotonic() if now is None else now) - self.span_s
        while self.items and self.items[0][0] < cutoff:
            self.items.popleft()
        return [v for _, v in self.items]

    def clear(self) -> None:
        self.items.clear()


def quantiles(values) -> dict:
    """p50/p95/p99/max (nearest rank) and the count; None when empty."""
    vals = sorted(values)
    if not vals:
        return {"p50": None, "p95": None, "p99": None, "max": None, "n": 0}

    def q(p: float) -> float:
        return round(vals[min(len(vals) - 1, max(0, math.ceil(p * len(vals)) - 1))], 3)

    return {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99), "max": round(vals[-1], 3), "n": len(vals)}


SENT_STAGES = ("exec_posted", "sent")
MAX_COPIES = 5000  # correlation ids kept for joining stage pieces


def wall_ms(mono_ns: int) -> float:
    """A monotonic stamp (system-wide on Linux, so from any process) as wall-clock ms."""
    return time.time() * 1000 - (time.monotonic_ns() - mono_ns) / 1e6


class StageJoin:
    """Joins the stage pieces of each copy by correlation id (pieces come from several actors, in
    any order) and records each latency once: per-stage times from `recv`, detection lag (recv -
    source time), internal latency (sent - recv) and copy delay (sent - source time).

    `work` is the internal latency without the coalescer's deliberate hold (a trailing order
    waits for its burst by design): hold = coalesced - intake when the coalescer reports a
    `coalesced` stage, else risk - intake. The auto kill judges `work`, not `internal`."""

    def __init__(self, metrics: Metrics, span_s: float):
        self.m = metrics
        self.copies: OrderedDict = OrderedDict()  # key -> {"stages": {}, "src": ms, "done": set()}
        self.internal, self.copy_delay, self.detect_lag = Window(span_s), Window(span_s), Window(span_s)
        self.work = Window(span_s)
        self.recent: deque = deque(maxlen=15)

    def add(self, key: str, piece: dict, source_ts_ms: int) -> tuple[dict, bool]:
        """Merge one piece. Returns (its stages in ms after recv, whether a copy was completed)."""
        rec = self.copies.get(key)
        if rec is None:
            rec = self.copies[key] = {"stages": {}, "src": 0, "done": set()}
            if len(self.copies) > MAX_COPIES:
                self.copies.popitem(last=False)
        rec["stages"].update(piece)
        rec["src"] = rec["src"] or source_ts_ms
        stages, src, done = rec["stages"], rec["src"], rec["done"]
        recv = stages.get("recv")
        if recv is None:
            return {}, False
        for name, ns in stages.items():
            if name != "recv" and name not in done:
                done.add(name)
                self.m.stage.labels(name).observe(max(0, ns - recv) / 1e9)
        if src and "#lag" not in done:  # markers start with # (stage names never do)
            done.add("#lag")
            self.detect_lag.add(wall_ms(recv) - src)
            self.m.detection_lag.observe(max(0.0, wall_ms(recv) - src) / 1000)
        rel = {k: round((v - recv) / 1e6, 3) for k, v in piece.items() if k != "recv"}
        sent = next((stages[s] for s in SENT_STAGES if s in stages), None)
        if sent is None or "#sent" in done:
            return rel, False
        done.add("#sent")
        internal = (sent - recv) / 1e6
        self.internal.add(internal)
        held_until = stages.get("coalesced") or stages.get("risk")
        hold = (held_until - stages["intake"]) / 1e6 if held_until and "intake" in stages else 0.0
        self.work.add(internal - max(0.0, hold))
        self.m.internal.observe(max(0.0, internal) / 1000)
        delay = wall_ms(sent) - src if src else None
        if delay is not None:
            self.copy_delay.add(delay)
            self.m.copy_delay.observe(max(0.0, delay) / 1000)
        self.recent.append({"corr": key[:40], "internal_ms": round(internal, 3),
                            "copy_delay_ms": None if delay is None else round(delay, 1), "t": time.time()})
        return rel, True

    def summary(self) -> dict:
        now = time.monotonic()
        return {"internal_ms": quantiles(self.internal.values(now)),
                "work_ms": quantiles(self.work.values(now)),
                "copy_delay_ms": quantiles(self.copy_delay.values(now)),
                "detection_lag_ms": quantiles(self.detect_lag.values(now)),
                "copies_recent": list(self.recent)}


def snapshot_path(cfg) -> Path:
    """Where the telemetry actor writes its JSON snapshot for the live view (the state folder)."""
    return Path(cfg.store.path).parent / "telemetry.json"
