"""Copy fidelity, computed by the telemetry actor from the decisions and outcomes it receives:
how much of the source's size was copied, at what price gap to the source, and why the rest was
not. It is in `--status` (the snapshot's `fidelity`), in Prometheus and in the live view's file.

- source shares: the net source shares of every intent decided (approved, clipped, rejected by
  risk, dropped by the coalescer; a duplicate intent is not counted twice). Fills that never
  became an intent (stale at start, unknown market) are not in it.
- copied shares: what filled (paper, live) or, in dry_run, what the order would have been.
  `size_copied_share` = copied / source: with `size_multiplier` m a perfect copy shows m, and
  the per-order cap lowers it on purpose.
- price gap per copy: our average price against the intent's source price, positive = worse for
  us (a BUY paid more, a SELL got less), in cents and bps; p50/p95 over the last copies.
- not copied: a count per `stage:reason` (risk, coalescer, executor = not sent, venue =
  rejected, including a FAK that matched nothing).
"""
from __future__ import annotations

from collections import Counter, deque
from decimal import Decimal

from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge, Histogram

from polycopy.ops.metrics import quantiles

KEEP = 5000  # gaps remembered for the quantiles
CENTS = (-5, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 5, 10)
ZERO = Decimal(0)


class Fidelity:
    def __init__(self, registry=None):
        self.source_shares = ZERO
        self.copied_shares = ZERO
        self.copies = 0
        self.gap_cents: deque = deque(maxlen=KEEP)
        self.gap_bps: deque = deque(maxlen=KEEP)
        self.not_copied: Counter = Counter()
        self.prom = None if registry is None else _Prom(registry)

    def decision(self, decision: str, reason: str, source_size: Decimal) -> None:
        """A RiskDecision (or a coalescer's drop, which travels as one)."""
        if reason == "duplicate_intent":
            return  # its fills were counted with the first verdict
        self.source_shares += abs(source_size)
        if self.prom:
            self.prom.source.inc(float(abs(source_size)))
        if decision == "rejected":
            self._not_copied(f"risk:{reason or '-'}")
        elif decision == "dropped":
            self._not_copied(f"coalescer:{reason or '-'}")
        self._share()

    def outcome(self, status: str, reason: str) -> None:
        """An OrderOutcome that copied nothing (a fill comes through `copied`)."""
        if status == "not_sent" and reason != "dry_run":
            self._not_copied(f"executor:{reason or '-'}")
        elif status == "rejected":
            self._not_copied(f"venue:{reason or '-'}")

    def copied(self, side: str, size: Decimal, price: Decimal, source_price: Decimal) -> None:
        """One copy that filled (or in dry_run would have): `size` shares at average `price`."""
        if size <= 0:
            return
        self.copies += 1
        self.copied_shares += size
        if self.prom:
            self.prom.copied.inc(float(size))
        if source_price > 0 and price > 0:
            diff = price - source_price if side == "BUY" else source_price - price
            self.gap_cents.append(float(diff * 100))
            self.gap_bps.append(float(diff / source_price * 10_000))
            if self.prom:
                self.prom.gap.observe(float(diff * 100))
        self._share()

    def summary(self) -> dict:
        share = self.copied_shares / self.source_shares if self.source_shares else None
        return {
            "source_shares": str(self.source_shares),
            "copied_shares": str(self.copied_shares),
            "size_copied_share": None if share is None else round(float(share), 4),
            "copies": self.copies,
            "price_gap_cents": _q(self.gap_cents),
            "price_gap_bps": _q(self.gap_bps),
            "not_copied": dict(self.not_copied.most_common()),
        }

    def _not_copied(self, key: str) -> None:
        self.not_copied[key] += 1
        if self.prom:
            stage, reason = key.split(":", 1)
            self.prom.not_copied.labels(stage, reason).inc()

    def _share(self) -> None:
        if self.prom and self.source_shares:
            self.prom.share.set(float(self.copied_shares / self.source_shares))


def _q(values) -> dict:
    q = quantiles(values)
    return {"p50": q["p50"], "p95": q["p95"], "n": q["n"]}


class _Prom:
    def __init__(self, r):
        self.source = PromCounter("polycopy_copy_source_shares", "net source shares of every intent decided",
                                  registry=r)
        self.copied = PromCounter("polycopy_copy_copied_shares", "shares copied (filled; dry_run: planned)",
                                  registry=r)
        self.share = Gauge("polycopy_copy_size_share", "copied shares / source shares since start", registry=r)
        self.gap = Histogram("polycopy_copy_price_gap_cents", "our price vs the source's per copy, cents "
                             "(positive = worse)", registry=r, buckets=CENTS)
        self.not_copied = PromCounter("polycopy_copy_not_copied", "intents not copied, by stage and reason",
                                      ["stage", "reason"], registry=r)
