"""Copies refused for a reason that will not go away by trying again (read-only: the rows are the
executor's intents and risk's verdicts). The reconciler leaves the drift they explain alone,
instead of re-creating a refused copy as a "missed fill".
"""
from __future__ import annotations

import sqlite_utils

from polycopy.store import exposure, journal

# The venue's and risk's reasons that stand: the region, the account, the balance, the market's
# state or rules. A timeout, a 5xx, a back-off or a cap that frees up later are not among them.
STANDING = frozenset({
    "region_restricted", "closed_only", "banned", "balance", "market_closed", "not_accepting_orders",
    "market_not_found", "no_orderbook", "below_min_size", "below_min_notional", "off_tick", "amount_precision",
    "region_close_only", "account_close_only", "entries_paused", "insufficient_balance",
})


def standing_refusals(db: sqlite_utils.Database, since_ts: float) -> dict[tuple[str, str], str]:
    """(token, side) -> the latest standing reason a copy on it was refused with, since `since_ts`."""
    journal.ensure(db)
    exposure.ensure(db)
    marks = ",".join("?" * len(STANDING))
    rows = db.execute(
        f"SELECT token_id, side, reason, updated_ts FROM {journal.INTENTS} WHERE state IN ('rejected', 'not_sent') "
        f"AND reason IN ({marks}) AND updated_ts >= ? "
        f"UNION ALL SELECT token_id, side, reason, decided_ts FROM {exposure.DECISIONS} WHERE decision = 'rejected' "
        f"AND reason IN ({marks}) AND decided_ts >= ? ORDER BY 4",
        [*STANDING, since_ts, *STANDING, since_ts]).fetchall()
    return {(token, side): reason for token, side, reason, _ in rows if token}
