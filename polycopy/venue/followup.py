"""What happens to an order after its first post, and at start-up: look up what the venue did
with an order whose fate is unclear, re-send the same bytes only while the venue does not know
it (never more than `max_posts_per_order` times), send parked orders when their back-off window
ends or end them, and resolve every journaled order left open by a crash before new intents are
admitted. A part of the Placer (placer.py), which it completes: it uses the placer's journal,
poster, clock and state.
"""
from __future__ import annotations

from decimal import Decimal

from loguru import logger

from polycopy.errors import TemporaryError
from polycopy.store import journal
from polycopy.venue.parking import NEAR_EXPIRY, STALE
from polycopy.messages import OrderOutcome
from polycopy.wire.clob import VenueOrder


class Followup:
    def resolve(self, order_id: str) -> OrderOutcome | None:
        """Settle an order whose fate is unclear: look it up; re-send the same bytes only if the venue
        does not know it and it is still fresh. None: still unresolved (try again later)."""
        row = journal.get_order(self.db, order_id)
        try:
            found = self.poster.lookup(order_id, row)
        except TemporaryError as e:
            logger.warning("lookup of {} failed ({}); will retry", order_id, e)
            self.unresolved.add(order_id)
            return None
        self.unresolved.discard(order_id)
        if found is not None:
            return self._found(row, found)
        fresh = self.clock() < row["valid_until_ts"]
        if fresh and self.poster.can_repost and row["posts"] < self.cfg.max_posts_per_order:
            if self.waiting():
                journal.update_order(self.db, order_id, state="retry_wait", retry_at_ts=self.blocked_until)
                return None
            logger.info("order {} unknown to the venue; re-posting the same signed bytes", order_id)
            return self.send(order_id)
        journal.update_order(self.db, order_id, state="expired", reason="absent_at_venue")
        return self._final(row, "not_sent", "absent_at_venue")

    def _found(self, row: dict, v: VenueOrder) -> OrderOutcome:
        usd = (v.size_matched * v.price).quantize(Decimal("0.000001"))  # at the limit: an upper bound for a BUY
        now = journal.get_order(self.db, row["order_id"])  # the user stream may have moved settlement on
        filled = v.size_matched > 0
        journal.update_order(self.db, row["order_id"], state="accepted", venue_status=v.status.lower(),
                             filled_size=v.size_matched, filled_notional=usd, trade_ids=v.trade_ids,
                             settlement=now["settlement"] or ("MATCHED" if filled else ""),
                             matched_ts=now["matched_ts"] or (self.clock() if filled else 0.0))
        return self._filloutcome(row, v.size_matched, usd, v.status.lower())

    def refresh_pending_fills(self) -> list[OrderOutcome]:
        """Accepted orders the venue had not matched yet (delayed / unmatched): look them up again."""
        outcomes = []
        for row in journal.accepted_without_result(self.db):
            try:
                found = self.poster.lookup(row["order_id"], row)
            except TemporaryError:
                continue
            if found is not None and found.status not in ("LIVE", "DELAYED"):
                outcomes.append(self._found(row, found))
        return outcomes

    # ------------------------------------------------------------ start-up and timers

    def recover(self) -> list[OrderOutcome]:
        """Resolve every journaled order without a final state (before admitting new intents),
        and close intents that died before their order was signed."""
        outcomes = []
        for it in journal.intents_without_order(self.db):
            journal.set_intent(self.db, it["intent_id"], "not_sent", "stopped_before_sign")
            outcomes.append(outcome(it["intent_id"], "", "not_sent", reason="stopped_before_sign",
                                     token=it["token_id"], condition=it["condition_id"], side=it["side"]))
        for row in journal.open_orders(self.db):
            if row["mode"] != self.poster.mode:
                journal.update_order(self.db, row["order_id"], state="expired", reason="mode_changed")
                out = self._final(row, "not_sent", "mode_changed")
            else:
                out = self._revisit(row, restart=True)
            if out is not None:
                outcomes.append(out)
        return outcomes

    def retry_due(self) -> list[OrderOutcome]:
        """Re-send orders parked by a 425/429/503 once the window has passed; resolve the rest."""
        outcomes = []
        for row in self._open_orders():
            out = self._revisit(row) if row["mode"] == self.poster.mode else None
            if out is not None:
                outcomes.append(out)
        return outcomes

    def _revisit(self, row: dict, restart: bool = False) -> OrderOutcome | None:
        now, oid = self.clock(), row["order_id"]
        if row["state"] == "retry_wait":  # refused with a back-off: not at the venue
            if now >= row["park_until_ts"] or not self.poster.can_repost:
                return self._end_parked(row)
            return self.send(oid) if now >= row["retry_at_ts"] and not self.waiting() else None
        if row["posts"] == 0:  # certainly not at the venue
            if now < row["valid_until_ts"] and self.poster.can_repost:
                return self.send(oid) if not self.waiting() else None
            journal.update_order(self.db, oid, state="expired", reason="stale_before_post")
            return self._final(row, "not_sent", "stale_before_post")
        return self.resolve(oid)  # posted at least once: maybe at the venue

    def _end_parked(self, row: dict) -> OrderOutcome:
        """A parked order whose time ran out (or will before the venue's window ends): it never reached the book."""
        reason = STALE if row["park_until_ts"] >= row["signed_ts"] + self.cfg.max_park_s else NEAR_EXPIRY
        journal.update_order(self.db, row["order_id"], state="expired", reason=reason)
        return self._final(row, "not_sent", reason)

    def pending(self) -> bool:
        return bool(self._open_orders()) or len(self.parking) > 0

    def _open_orders(self) -> list[dict]:
        """Journaled orders without a final state, except those whose first post is still in flight."""
        return [r for r in journal.open_orders(self.db) if r["order_id"] not in self.in_flight]

    # ------------------------------------------------------------ outcomes

    def _filloutcome(self, row: dict, size: Decimal, usd: Decimal, status: str) -> OrderOutcome:
        if size <= 0:
            kind = "unknown" if status in ("live", "delayed", "unmatched") else "rejected"
            reason = status or "no_fill"
        else:
            kind, reason = ("filled", status) if size >= row["size"] else ("partial", status)
        journal.set_intent(self.db, row["intent_id"], kind, reason, row["order_id"])
        return outcome(row["intent_id"], row["order_id"], kind, size, usd, reason, row["token_id"],
                        row["condition_id"], row["side"])

    def _final(self, row: dict, status: str, reason: str) -> OrderOutcome:
        journal.set_intent(self.db, row["intent_id"], status, reason, row["order_id"])
        return outcome(row["intent_id"], row["order_id"], status, reason=reason, token=row["token_id"],
                        condition=row["condition_id"], side=row["side"])


def outcome(intent_id, order_id, status, size=Decimal(0), usd=Decimal(0), reason="", token="", condition="", side=""):
    return OrderOutcome(intent_id=intent_id, order_id=order_id, status=status, filled_size=size,
                        filled_notional_usd=usd, reason=reason, token_id=token, condition_id=condition, side=side)
