"""Telemetry: stage timings joined by correlation id, Prometheus metrics, alerts, the auto kill,
copy fidelity (ops/fidelity.py), the dry-run/paper CSVs and the live-view snapshot. It is off
the hot path: everyone only tells it, in batches (`Reports`, see ChildActor.report).

Stage timings arrive in pieces (intake: recv+intake; risk: recv+risk; executor: exec_* stages)
under one key, the source fill's key; they are merged per key, and each piece is logged as one
line with `corr` = that key. Internal latency = sent - recv; copy delay = sent (as
wall time) - the source's fill time; detection lag = recv (as wall time) - the source's fill time.
Monotonic ns are system-wide on Linux, so stamps from different processes compare.

Auto kill: over `risk.kill_window_s`, with at least `risk.kill_min_orders` orders, an error rate
(unknown + venue rejects that are not plain no-fills, over orders sent) >= `risk.kill_error_rate`
or a p95 internal latency > `risk.kill_p95_internal_ms` sends one TripKillSwitch to the parent.
The latency judged excludes the coalescer's deliberate burst hold (`StageJoin.work`).
It re-arms when the operator resets the switch.

Long because it is where every report meets: timings, metrics, alerts, CSVs, the snapshot and
the auto kill each take a few lines; the work itself is in ops/ (metrics, alerts, csvfiles).
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter, OrderedDict, deque
from decimal import Decimal
from datetime import timedelta
from pathlib import Path

from polycopy.actors.base import ChildActor
from polycopy.ops.alerts import AlertPolicy, AlertSender, feed_conditions, kill_reason, order_failed, split_urls
from polycopy.ops.csvfiles import TargetCsv, trade_row
from polycopy.ops.fidelity import Fidelity
from polycopy.ops.logs import make_scrubber
from polycopy.messages import (Alert, FeedHealth, FeedStats, OrderOutcome, ReconcileStats, Reports, RiskDecision,
                               StageTiming,
                               TelemetrySnapshot, TripKillSwitch)
from polycopy.ops.metrics import Metrics, StageJoin, snapshot_path

TICK = "telemetry-tick"
TICK_S = 1.0
MAX_OUTCOMES = 5000  # outcomes remembered to ignore redeliveries
SENT_STATUSES = ("filled", "partial", "rejected", "unknown")
REPORTS = (StageTiming, RiskDecision, OrderOutcome, FeedHealth, FeedStats, Alert, ReconcileStats, Reports)
EVENTS = ("child_restart", "unconfirmed_fill", "settlement_failed", "late_fill", "venue_account")  # never resolved


class Telemetry(ChildActor):
    role = "telemetry"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.counters: Counter = Counter()
        self.alert_log: deque = deque(maxlen=20)
        self.outcomes_seen: OrderedDict = OrderedDict()
        self.feeds: dict = {}
        self.feed_stats: dict = {}
        self.reconcile: dict = {}  # the reconciler's rounds and what they did (ReconcileStats)
        self.orders: deque = deque()  # (mono s, failed) of orders sent
        self.rejects: deque = deque()  # mono s of venue rejects
        self.kill_sent = False
        self.metrics = self.policy = self.sender = self.csv = self.db = None
        self.snapshot_file: Path | None = None
        self.metrics_port = 0

    # ------------------------------------------------------------ start and stop

    def receiveMessage(self, msg, sender):
        if self.metrics is None and isinstance(msg, REPORTS):  # a report racing our Init: not a failure
            self.log.debug("{} before Init; dropped", type(msg).__name__)
            return None
        return super().receiveMessage(msg, sender)

    def on_init(self, msg) -> None:
        tcfg, rcfg = self.config.telemetry, self.config.risk
        self.metrics = Metrics()
        self.fidelity = Fidelity(self.metrics.registry)
        self.timings = StageJoin(self.metrics, rcfg.kill_window_s)
        try:
            self.metrics_port = self.metrics.serve(tcfg.metrics_port)
        except OSError as e:
            self.log.error("metrics endpoint not started on 127.0.0.1:{}: {}", tcfg.metrics_port, e.strerror or e)
        self.metrics.kill_switch.set(1 if self.kill_tripped else 0)
        self.metrics.mode(self.config.mode.value)
        self.metrics.entries_paused.set(1 if self.entries_paused else 0)
        self.policy = AlertPolicy(tcfg.alerts.cooldown_s)
        self._start_sender()
        if tcfg.write_csv and self.config.mode.value in ("dry_run", "paper"):
            self.csv = TargetCsv(self.config.store.path.parent)
        self.snapshot_file = snapshot_path(self.config)
        self.wakeupAfter(timedelta(seconds=TICK_S), payload=TICK)

    def _start_sender(self) -> None:
        from polycopy import bootstrap

        secrets = bootstrap.secrets()
        urls = split_urls(secrets.alert_urls.get_secret_value() if secrets.alert_urls else "")
        if urls:
            self.sender = AlertSender(urls, scrub=make_scrubber(secrets.values()))
            if self.sender.bad_urls:
                self.log.error("{} alert URL(s) in POLYCOPY_ALERT_URLS not understood", len(self.sender.bad_urls))
        self.log.info("alerts go to {} destination(s); metrics on {}", len(urls),
                      f"127.0.0.1:{self.metrics_port}" if self.metrics_port else "nothing (off)")

    def on_reload(self) -> None:
        self.policy.cooldown_s = self.config.telemetry.alerts.cooldown_s
        for w in (self.timings.internal, self.timings.work, self.timings.copy_delay, self.timings.detect_lag):
            w.span_s = self.config.risk.kill_window_s

    def on_exit(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
        if self.sender is not None:
            self.sender.close(1.0)
        if self.db is not None:
            self.db.conn.close()
            self.db = None

    def receiveMsg_Reports(self, msg: Reports, sender):
        """A batch from ChildActor.report: each item as if it had come alone (one bad item spoils no other)."""
        for item in msg.items:
            handler = getattr(self, f"receiveMsg_{type(item).__name__}", None)
            if handler is None or not isinstance(item, REPORTS) or isinstance(item, Reports):
                self.log.warning("unexpected report {}", type(item).__name__)
                continue
            try:
                handler(item, sender)
            except Exception as e:  # noqa: BLE001 - the rest of the batch still counts
                self.log.exception("report {} failed: {}", type(item).__name__, e)

    # ------------------------------------------------------------ stage timings

    def receiveMsg_StageTiming(self, msg: StageTiming, sender):
        rel, completed = self.timings.add(msg.key, dict(msg.stages), msg.source_ts_ms)
        self.log.bind(corr=msg.key, stages_ms=rel).info(
            "copy stages {}", " ".join(f"{k}={v}" for k, v in rel.items()) or ",".join(k for k, _ in msg.stages))
        if completed:
            self._check_kill()

    # ------------------------------------------------------------ decisions and outcomes

    def receiveMsg_RiskDecision(self, msg: RiskDecision, sender):
        self.counters[f"risk_{msg.decision}"] += 1
        self.metrics.decision(msg.decision, msg.reason)
        self.fidelity.decision(msg.decision, msg.reason, msg.source_size)

    def receiveMsg_OrderOutcome(self, msg: OrderOutcome, sender):
        seen = (msg.intent_id, msg.status, msg.filled_size)
        if seen in self.outcomes_seen:  # a redelivery: count it once
            return
        self.outcomes_seen[seen] = None
        if len(self.outcomes_seen) > MAX_OUTCOMES:
            self.outcomes_seen.popitem(last=False)
        now = time.monotonic()
        self.counters[f"orders_{msg.status}"] += 1
        self.metrics.outcome(msg.status, msg.reason)
        if msg.status in ("rejected", "not_sent"):
            self.fidelity.outcome(msg.status, msg.reason)
        if msg.status in SENT_STATUSES:
            self.orders.append((now, order_failed(msg.status, msg.reason)))
        if msg.status == "rejected":
            self.rejects.append(now)
            if msg.reason == "auth":
                self._raise("auth_failure", "the venue refused our API credentials (401): re-derive them")
        elif msg.status in ("filled", "partial"):
            self._resolve("auth_failure", "orders accepted again")
        self._check_rejects(now)
        self._record_trade(msg)
        self._check_kill()

    def _record_trade(self, msg: OrderOutcome) -> None:
        if not (msg.status in ("filled", "partial") or msg.reason == "dry_run"):
            return
        order, intent = self._journal_rows(msg)
        row = trade_row(msg, order, intent, self.config.mode.value)
        if row is None:
            return
        self.fidelity.copied(row["side"], Decimal(row["size"]), Decimal(row["price"]),
                             Decimal(row["source_price"] or 0))
        if row["slippage_bps"] and msg.status in ("filled", "partial"):
            self.metrics.slippage.observe(float(row["slippage_bps"]))
        if self.csv is not None:
            self.csv.add(row)

    def _journal_rows(self, msg: OrderOutcome):
        """The order and intent as the executor journaled them (source price, intended size)."""
        from polycopy.store import journal, open_db

        try:
            if self.db is None:
                self.db = open_db(self.config.store.path, self.config.store.synchronous)
            order = journal.get_order(self.db, msg.order_id) if msg.order_id else None
            return order, journal.load_intent(self.db, msg.intent_id)
        except Exception as e:  # noqa: BLE001 - the journal may not exist yet; the row is then partial
            self.log.debug("journal not readable for {}: {}", msg.intent_id, e)
            return None, None

    def _check_rejects(self, now: float) -> None:
        a = self.config.telemetry.alerts
        while self.rejects and self.rejects[0] < now - a.reject_window_s:
            self.rejects.popleft()
        if len(self.rejects) >= a.reject_burst:
            self._raise("repeated_rejects", f"{len(self.rejects)} orders rejected in {a.reject_window_s} s")
        else:
            self._resolve("repeated_rejects", f"{len(self.rejects)} rejects in the last {a.reject_window_s} s")

    # ------------------------------------------------------------ auto kill

    def _check_kill(self) -> None:
        if self.kill_sent or self.kill_tripped or self.parent is None:
            return
        r = self.config.risk
        now = time.monotonic()
        while self.orders and self.orders[0][0] < now - r.kill_window_s:
            self.orders.popleft()
        reason = kill_reason([f for _, f in self.orders], self.timings.work.values(now), r)
        if reason:
            self.kill_sent = True
            self.log.error("tripping the kill switch: {}", reason)
            self.send(self.parent, TripKillSwitch(reason=reason, source="telemetry"))

    def on_kill_switch(self, msg) -> None:
        self.metrics.kill_switch.set(1 if msg.tripped else 0)
        if not msg.tripped:  # operator reset: start the windows afresh and re-arm
            self.kill_sent = False
            self.orders.clear()
            self.timings.work.clear()

    def receiveMsg_EntriesChanged(self, msg, sender):
        super().receiveMsg_EntriesChanged(msg, sender)
        if self.metrics is not None:
            self.metrics.entries_paused.set(1 if msg.reason else 0)

    # ------------------------------------------------------------ feeds and alerts

    def receiveMsg_FeedHealth(self, msg: FeedHealth, sender):
        now = time.monotonic()
        prev = self.feeds.get(msg.feed, {})
        down_since = None if msg.connected else (prev.get("down_since") or now)
        self.feeds[msg.feed] = {"connected": msg.connected, "silence_s": msg.silence_s, "reconnects": msg.reconnects,
                                "malformed": msg.malformed, "circuit_open": msg.circuit_open, "detail": msg.detail,
                                "at": now, "down_since": down_since}
        self.metrics.feed(msg.feed, connected=msg.connected, silence_s=msg.silence_s, reconnects=msg.reconnects,
                          circuit_open=msg.circuit_open)
        self._check_feeds(now)

    def receiveMsg_FeedStats(self, msg: FeedStats, sender):
        self.metrics.feed_stats(msg.feed, msg.first_seen)
        self.feed_stats[msg.feed] = {"first_seen": msg.first_seen, "duplicates": msg.duplicates, "stale": msg.stale,
                                     "unconfirmed": msg.unconfirmed, "invalid": msg.invalid,
                                     "lag_source_ms_p50": msg.lag_source_ms_p50}

    def receiveMsg_ReconcileStats(self, msg: ReconcileStats, sender):
        self.reconcile = {"rounds": msg.rounds, **dict(msg.counts)}

    def _silence(self, f: dict, now: float) -> float:
        return f["silence_s"] + (now - f["at"])  # a watcher that stops reporting counts as silent too

    def _check_feeds(self, now: float) -> None:
        limit = self.config.telemetry.alerts.feed_silent_s
        for name, f in self.feeds.items():
            silence = self._silence(f, now)
            self.metrics.feed_silence.labels(name).set(round(silence, 3))
            down_s = None if f["down_since"] is None else now - f["down_since"]
            for condition, firing, text in feed_conditions(name, silence, f["circuit_open"], down_s, limit, f["detail"]):
                (self._raise if firing else self._resolve)(condition, text)

    def receiveMsg_Alert(self, msg: Alert, sender):
        condition = f"{msg.condition}:{msg.key}" if msg.key else msg.condition
        if msg.resolved:
            self._resolve(condition, msg.text)
        else:
            self._raise(condition, msg.text, event=msg.condition in EVENTS)

    def _raise(self, condition: str, text: str, event: bool = False) -> None:
        notice = self.policy.fire(condition, text, event=event)
        if notice is not None:
            self.metrics.alerts.labels(condition.split(":")[0]).inc()
            self.counters[f"alert:{condition}"] += 1
            self._deliver(notice, resolved=False)

    def _resolve(self, condition: str, text: str) -> None:
        if condition in self.policy.active:
            self._deliver(self.policy.resolve(condition, text), resolved=True)

    def _deliver(self, notice, resolved: bool) -> None:
        (self.log.info if resolved else self.log.warning)("ALERT {}{}: {}", notice.condition,
                                                          " resolved" if resolved else "", notice.body)
        self.alert_log.append({"t": time.time(), "condition": notice.condition, "text": notice.body,
                               "resolved": resolved})
        if self.sender is not None and not self.sender.submit(notice):
            self.log.error("alert queue full; {} not sent", notice.condition)

    # ------------------------------------------------------------ periodic: alerts, snapshot

    def on_wakeup(self, payload) -> None:
        if payload != TICK:
            return
        now = time.monotonic()
        self.policy.expire(now)
        self._check_feeds(now)
        self._check_rejects(now)
        self._check_kill()
        snap = self.snapshot()
        if self.parent is not None:
            self.send(self.parent, TelemetrySnapshot(snapshot=snap))
        self._write_snapshot(snap)
        self.wakeupAfter(timedelta(seconds=TICK_S), payload=TICK)

    def snapshot(self) -> dict:
        now = time.monotonic()
        return {
            "t": time.time(),
            "mode": self.config.mode.value,
            "kill_switch": self.kill_tripped,
            "counters": dict(self.counters),
            "fidelity": self.fidelity.summary(),
            **self.timings.summary(),
            "feeds": {n: {"connected": f["connected"], "silence_s": round(self._silence(f, now), 1),
                          "reconnects": f["reconnects"], "malformed": f["malformed"],
                          "circuit_open": f["circuit_open"], **self.feed_stats.get(n, {})}
                      for n, f in self.feeds.items()},
            "reconcile": self.reconcile,
            "alerts_firing": self.policy.firing(),
            "alerts_recent": list(self.alert_log),
            "positions": self.csv.summary() if self.csv is not None else [],
            "metrics_port": self.metrics_port,
        }

    def _write_snapshot(self, snap: dict) -> None:
        """Atomically (write, then rename) so the live view never reads half a file."""
        if self.snapshot_file is None:
            return
        tmp = self.snapshot_file.with_name(self.snapshot_file.name + f".{os.getpid()}.tmp")
        try:
            self.snapshot_file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(snap, default=str))
            os.replace(tmp, self.snapshot_file)
        except OSError as e:
            self.log.warning("snapshot not written: {}", e.strerror or e)
