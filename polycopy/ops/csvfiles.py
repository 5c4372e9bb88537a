"""target_trades.csv and target_positions.csv beside the SQLite file (dry_run and paper modes).

"Target" = what the bot would hold by copying: in dry_run the orders it would have sent (at
their limit price), in paper the fills simulated against the book. Both files are append-only
and keyed by order ID, so a redelivered outcome or a restart never writes a row twice:

- target_trades.csv: one row per copied order.
- target_positions.csv: one row per position change (the token's shares, average price and cost
  after that order); the last row of a token is its current position.

Each row names its market for people ("BTC Up · 8:30–8:45 PM ET", ops/names.py) beside the
token id for machines. A file written by an older version keeps its own columns (no `market`).
"""
from __future__ import annotations

import csv
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

TRADES = "target_trades.csv"
POSITIONS = "target_positions.csv"
TRADE_FIELDS = ("ts", "mode", "market", "order_id", "intent_id", "token_id", "condition_id", "side", "size", "price",
                "notional_usd", "source_price", "slippage_bps", "status")
POSITION_FIELDS = ("ts", "market", "order_id", "token_id", "condition_id", "shares", "avg_price", "cost_usd")
Q6 = Decimal("0.000001")


def slippage_bps(side: str, source_price: Decimal, price: Decimal) -> Decimal | None:
    """Our price against the source's, in bps; positive = worse for us (paid more, sold lower)."""
    if not source_price or source_price <= 0 or not price:
        return None
    diff = price - source_price if side == "BUY" else source_price - price
    return (diff / source_price * 10_000).quantize(Decimal("0.01"))


def _dec(v) -> Decimal:
    try:
        return Decimal(str(v)) if v not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def trade_row(outcome, order: dict | None, intent: dict | None, mode: str, market: str = "") -> dict | None:
    """The CSV row for one OrderOutcome, or None if nothing was (or would have been) traded."""
    if outcome.status in ("filled", "partial") and outcome.filled_size > 0:
        size, notional = outcome.filled_size, outcome.filled_notional_usd
        price = (notional / size).quantize(Q6)
    elif outcome.status == "not_sent" and outcome.reason == "dry_run" and order is not None:
        size, price, notional = _dec(order.get("size")), _dec(order.get("price")), _dec(order.get("notional"))
    else:
        return None
    if size <= 0:
        return None
    source = _dec((intent or {}).get("source_price"))
    slip = slippage_bps(outcome.side, source, price)
    return {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "mode": mode, "market": market,
            "order_id": outcome.order_id or (order or {}).get("order_id", ""), "intent_id": outcome.intent_id,
            "token_id": outcome.token_id, "condition_id": outcome.condition_id, "side": outcome.side,
            "size": str(size), "price": str(price), "notional_usd": str(notional),
            "source_price": str(source) if source else "", "slippage_bps": "" if slip is None else str(slip),
            "status": outcome.status}


class TargetCsv:
    """The two files in one folder; `add(row)` appends a trade and its position change once."""

    def __init__(self, folder: Path):
        self.trades_path = Path(folder) / TRADES
        self.positions_path = Path(folder) / POSITIONS
        self.seen: set[str] = set()
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # token -> (shares, cost)
        for r in _read(self.trades_path):
            self.seen.add(r.get("order_id") or r.get("intent_id", ""))
        for r in _read(self.positions_path):
            self.positions[r["token_id"]] = (_dec(r["shares"]), _dec(r["cost_usd"]))

    def add(self, row: dict) -> bool:
        key = row["order_id"] or row["intent_id"]
        if not key or key in self.seen:
            return False
        _append(self.trades_path, TRADE_FIELDS, row)
        self.seen.add(key)
        shares, cost = self.positions.get(row["token_id"], (Decimal(0), Decimal(0)))
        size, notional = _dec(row["size"]), _dec(row["notional_usd"])
        if row["side"] == "BUY":
            shares, cost = shares + size, cost + notional
        else:
            avg = cost / shares if shares > 0 else Decimal(0)
            shares, cost = shares - size, cost - avg * min(size, max(shares, Decimal(0)))
        self.positions[row["token_id"]] = (shares, cost)
        avg = (cost / shares).quantize(Q6) if shares > 0 else Decimal(0)
        _append(self.positions_path, POSITION_FIELDS, {
            "ts": row["ts"], "market": row.get("market", ""), "order_id": key, "token_id": row["token_id"], "condition_id": row["condition_id"],
            "shares": str(shares), "avg_price": str(avg), "cost_usd": str(cost.quantize(Q6))})
        return True

    def summary(self) -> list[dict]:
        """Open positions, for the live view."""
        return [{"token_id": t, "shares": str(s), "cost_usd": str(c.quantize(Q6))}
                for t, (s, c) in sorted(self.positions.items()) if s != 0]


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _append(path: Path, fields, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        with path.open(newline="") as f:
            fields = next(csv.reader(f), None) or fields  # an older file's columns: rows stay aligned
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(row)
