"""What the reconciler and the catalog remember across restarts.

- `reconcile_tokens` (reconciler): the source's shares per token when we started watching it
  (the baseline: positions the source already held are not bought unless adopted) and whether
  the token is tracked (its position changed while we watched, or we hold it). Without it a
  restarted reconciler would take a fresh baseline and forget a fill it had not corrected yet.
- `catalog_assets` (catalog): the assets whose 15-minute windows are pre-loaded, learned from
  the source's slugs; a restarted catalog pre-loads at once instead of waiting for a new fill.
"""
from __future__ import annotations

import time
from decimal import Decimal

import sqlite_utils

TOKENS = "reconcile_tokens"
ASSETS = "catalog_assets"
KEEP_ASSETS_S = 7 * 86_400  # an asset the source has not traded for a week is no longer pre-loaded


def ensure(db: sqlite_utils.Database) -> None:
    db[TOKENS].create({"token_id": str, "baseline": str, "tracked": int, "updated_ts": float}, pk="token_id",
                      if_not_exists=True)
    db[ASSETS].create({"asset": str, "seen_ts": float}, pk="asset", if_not_exists=True)


def save_baseline(db: sqlite_utils.Database, baseline: dict[str, Decimal]) -> None:
    ensure(db)
    now = time.time()
    with db.conn:
        db[TOKENS].upsert_all([{"token_id": t, "baseline": str(s), "tracked": 0, "updated_ts": now}
                               for t, s in baseline.items()], pk="token_id")
        db[TOKENS].upsert({"token_id": "", "baseline": "0", "tracked": 0, "updated_ts": now}, pk="token_id")


def save_tracked(db: sqlite_utils.Database, tokens) -> None:
    ensure(db)
    now = time.time()
    with db.conn:
        for t in tokens:
            db.execute(f"INSERT INTO {TOKENS} (token_id, baseline, tracked, updated_ts) VALUES (?, '0', 1, ?) "
                       "ON CONFLICT(token_id) DO UPDATE SET tracked = 1, updated_ts = excluded.updated_ts", [t, now])


def load_tokens(db: sqlite_utils.Database) -> tuple[dict[str, Decimal] | None, set[str]]:
    """(baseline or None when none was taken yet, tracked tokens)."""
    ensure(db)
    rows = list(db[TOKENS].rows)
    if not any(r["token_id"] == "" for r in rows):  # the marker row: a baseline was taken
        return None, {r["token_id"] for r in rows if r["tracked"]}
    baseline = {r["token_id"]: Decimal(r["baseline"]) for r in rows if r["token_id"]}
    return baseline, {r["token_id"] for r in rows if r["tracked"] and r["token_id"]}


def save_asset(db: sqlite_utils.Database, asset: str) -> None:
    ensure(db)
    with db.conn:
        db[ASSETS].upsert({"asset": asset, "seen_ts": time.time()}, pk="asset")


def load_assets(db: sqlite_utils.Database) -> set[str]:
    ensure(db)
    cutoff = time.time() - KEEP_ASSETS_S
    return {r["asset"] for r in db[ASSETS].rows_where("seen_ts >= ?", [cutoff])}
