"""Placing one order per approved intent, exactly once, across crashes.

    price + size (orders.py) -> sign (clob.py) -> journal + commit -> count the post -> post
    -> parse -> journal the result -> OrderOutcome

An unclear result (timeout, 5xx, "duplicated") is resolved by looking the order up by its
hash; only if the venue does not know it, and it is still fresh, are the SAME stored bytes
sent again (followup.py, with start-up recovery, which runs before any new intent is admitted).
No code path signs a second order for an intent (the journal's unique index would refuse it
anyway). No Thespian here: the executor actor drives it, and tests drive it directly.

A wake-up's approved intents are placed together (`place_batch`): their intents recorded in one
commit, each priced and signed, their signed orders journaled in one commit (each order is durable
before its own POST, as alone), then posted in order. One intent is a batch of one (`place`).

With `post_async` set (live mode), a new order's first POST is handed to it and `place()`
returns None at once; the executor calls `complete()` with the venue's answer. Until then the
order is `in_flight`: retries and lookups leave it alone (a crash meanwhile leaves it counted
as maybe sent, which start-up recovery resolves by looking it up).

Inside a venue back-off window nothing is posted and nothing is dropped: intents and 429'd orders
are parked (parking.py) and go when the window ends. No order is ever posted more than
`execution.max_posts_per_order` times, on any path.

Long because every path that can sign, journal or post an order (alone, in a batch, resumed from
parking, re-sent) and the handling of the venue's answer share one set of journal rules, and
they are kept where they can be read together; the lookups and retries are in followup.py.
"""
from __future__ import annotations

import hashlib
import json
import time
from decimal import ROUND_FLOOR, Decimal
from types import SimpleNamespace

from loguru import logger

from polycopy.messages import ApprovedIntent, Market, OrderOutcome
from polycopy.policy.limits import Slippage
from polycopy.store import journal
from polycopy.venue.clob import SignedOrder
from polycopy.venue.orders import OrderPlan, PlanRejected, marketable_price, plan_order
from polycopy.venue.followup import Followup, outcome
from polycopy.venue.parking import Parked, Parking, park_deadline
from polycopy.wire.clob import Book, PostResult


class Placer(Followup):
    def __init__(self, db, poster, *, signer=None, exec_config, clock=time.time):
        journal.ensure(db)
        self.db, self.poster, self.signer, self.cfg, self.clock = db, poster, signer, exec_config, clock
        self.blocked_until = 0.0  # 425/429/503 window: nothing is posted before this time
        self.blocked_reason = ""
        self.held = ""  # why nothing is posted now apart from a venue window (the executor's heartbeats failing)
        self.unresolved: set[str] = set()  # order ids whose fate a lookup could not settle yet
        self.sending_allowed = True  # False while the kill switch is tripped: nothing leaves, not even a re-post
        self.marks: list[tuple[str, int]] = []  # (stage, monotonic ns) of the last place(), for stage timings
        self.post_async = None  # (row, signed, plan, book) -> None: posts elsewhere; the answer comes to complete()
        self.in_flight: dict[str, dict] = {}  # order id -> journal row, posted asynchronously, no answer yet
        self.parking = Parking()  # intents that arrived inside a back-off window
        self.plans: dict[str, OrderPlan] = {}  # order id -> the plan journaled with it (this process)

    def _mark(self, stage: str) -> None:
        self.marks.append((stage, time.monotonic_ns()))

    # ------------------------------------------------------------ the hot path

    def place(self, approved: ApprovedIntent, market: Market, book: Book) -> OrderOutcome | None:
        (out, self.marks), = self.place_batch([(approved, market, book)])
        return out

    def place_batch(self, jobs: list[tuple[ApprovedIntent, Market, Book]]) -> list[tuple[OrderOutcome | None, list]]:
        """(outcome or None, stage marks) per (approved, market, book), in order. None: posted
        asynchronously, answered through `complete`; or a redelivery (it has its order already)."""
        fresh = journal.save_intents(self.db, [
            dict(intent_id=a.intent.intent_id, token_id=a.intent.token_id, condition_id=a.intent.condition_id,
                 side=a.intent.side, size=a.size, source_price=a.intent.source_price, max_notional=a.max_notional_usd)
            for a, _, _ in jobs])
        results: list = [None] * len(jobs)
        marks: list = [[] for _ in jobs]
        signed = []  # (job index, fields to journal, plan, book)
        for i, ((approved, market, book), new) in enumerate(zip(jobs, fresh)):
            self.marks = marks[i]
            if not new:
                logger.warning("intent {} delivered again; it already has its order or outcome", approved.intent_id)
            elif self.waiting():
                results[i] = self._park(approved, market)
            else:
                prepared = self._prepare(approved, market, book)
                if isinstance(prepared, OrderOutcome):
                    results[i] = prepared
                else:
                    signed.append((i, *prepared, book))
        sent = self._journal_and_send([(fields, plan, book, marks[i]) for i, fields, plan, book in signed])
        for (i, *_), out in zip(signed, sent):
            results[i] = out
        return list(zip(results, marks))

    def resume(self, parked: Parked, book: Book) -> OrderOutcome | None:
        """A parked intent whose window ended: priced from today's book, signed, sent."""
        self.marks = []
        if self.waiting():  # another window opened meanwhile
            return self._park(parked.approved, parked.market, since=parked.since)
        return self._place(parked.approved, parked.market, book)

    def waiting(self) -> str:
        """Why nothing may be posted now ("" when it may): a venue back-off window, or a hold."""
        return f"venue_{self.blocked_reason}" if self.clock() < self.blocked_until else self.held

    def back_off(self, retry_after_s: float | None, reason: str) -> None:
        """The venue asked us to wait (429/425/503, on a post or on a read): nothing is posted before then."""
        self.blocked_until = max(self.blocked_until, self.clock() + max(retry_after_s or 0, 1.0))
        self.blocked_reason = reason

    def _park(self, approved: ApprovedIntent, market: Market, since: float | None = None) -> None:
        p = self.parking.park(self.cfg, approved, market, self.clock() if since is None else since)
        why = self.waiting()
        journal.set_intent(self.db, approved.intent_id, "parked", why)
        logger.info("intent {} parked ({}, {:.1f}s of back-off left); it goes then, or ends at {:.0f}",
                    approved.intent_id, why, max(0.0, self.blocked_until - self.clock()), p.until)
        return None

    def parked_due(self) -> tuple[list[Parked], list[OrderOutcome]]:
        """Parked intents that may go now (the caller fetches their books and calls `resume`), and the
        outcomes of those that end unsent (stale, near expiry, kill switch)."""
        blocked_until = float("inf") if self.held else self.blocked_until
        ready, ended = self.parking.due(self.clock(), blocked_until, self.sending_allowed)
        outcomes = []
        for p, reason in ended:
            it = p.approved.intent
            journal.set_intent(self.db, it.intent_id, "not_sent", reason)
            logger.info("parked intent {} not sent: {}", it.intent_id, reason)
            outcomes.append(outcome(it.intent_id, "", "not_sent", reason=reason, token=it.token_id,
                                     condition=it.condition_id, side=it.side))
        return ready, outcomes

    def _place(self, approved: ApprovedIntent, market: Market, book: Book) -> OrderOutcome | None:
        """Price, sign, journal and send one intent (a parked one whose window ended)."""
        prepared = self._prepare(approved, market, book)
        if isinstance(prepared, OrderOutcome):
            return prepared
        fields, plan = prepared
        (out,) = self._journal_and_send([(fields, plan, book, self.marks)])
        return out

    def _prepare(self, approved: ApprovedIntent, market: Market, book: Book):
        """(the order's journal fields, its plan), or the outcome of an intent that gets no order."""
        it = approved.intent
        try:
            plan = self.plan(approved, market, book)
        except PlanRejected as e:
            journal.set_intent(self.db, it.intent_id, "not_sent", e.recorded)  # a slippage refusal keeps its price
            logger.info("intent {} not sent: {}", it.intent_id, e)
            return outcome(it.intent_id, "", "not_sent", reason=e.reason, token=it.token_id,
                           condition=it.condition_id, side=it.side)
        except Exception as e:  # noqa: BLE001 - no order exists yet: this intent ends here, the batch goes on
            logger.exception("intent {} could not be priced: {}", it.intent_id, e)
            return self._not_placed(it, "executor_error")
        self._mark("priced")
        try:
            signed = self.sign(plan, market, it.intent_id)
        except Exception as e:  # noqa: BLE001 - as above: nothing journaled, nothing sent
            logger.exception("intent {} could not be signed: {}", it.intent_id, e)
            return self._not_placed(it, "executor_error")
        self._mark("signed")
        now = self.clock()
        park_until, _ = park_deadline(self.cfg, market, plan.side, now)
        fields = dict(order_id=signed.order_id, intent_id=it.intent_id, token_id=it.token_id,
                      condition_id=it.condition_id, side=plan.side, price=plan.price, size=plan.size,
                      notional=plan.notional, order_type=plan.order_type, order_json=signed.order_json,
                      mode=self.poster.mode, valid_until_ts=self._valid_until(market), park_until_ts=park_until,
                      tick_size=plan.tick_size, signed_ts=now,
                      posts=int(self.sending_allowed))  # the first send is counted in the journal's own commit
        return fields, plan

    def _journal_and_send(self, prepared: list[tuple[dict, OrderPlan, Book, list]]) -> list[OrderOutcome | None]:
        """Signed orders (journal fields, plan, book, the job's stage marks) journaled in one commit,
        then each sent for the first time; an outcome (or None: answered later) each, in order."""
        rows = self._journal([fields for fields, _, _, _ in prepared])
        out = []
        for (fields, plan, book, marks), row in zip(prepared, rows):
            self.marks = marks
            if row is None:  # the journal commit failed: nothing of it exists, nothing was posted
                out.append(self._failed_journal(fields))
                continue
            self.plans[row["order_id"]] = plan
            self._mark("journaled")
            out.append(self._send_first(row, plan, book))
        return out

    def _journal(self, orders: list[dict]) -> list[dict | None]:
        """Journal signed orders in one commit (fsynced on the executor's connection); a row each, or
        None for each if the commit failed."""
        if not orders:
            return []
        try:
            return journal.journal_orders(self.db, orders)
        except Exception as e:  # noqa: BLE001 - the caller resolves each; nothing was posted
            logger.exception("journaling {} signed order(s) failed: {}", len(orders), e)
            return [None] * len(orders)

    def _failed_journal(self, fields: dict) -> OrderOutcome | None:
        return self.unless_journaled(SimpleNamespace(intent_id=fields["intent_id"], token_id=fields["token_id"],
                                                     condition_id=fields["condition_id"], side=fields["side"]))

    def unless_journaled(self, it) -> OrderOutcome | None:
        """An intent whose placing failed (a journal commit, or anything around it): not sent
        (`executor_error`) if its order is not in the journal; if it is (the commit's outcome was
        unclear) it is an open order like any other, resolved by the retries (None)."""
        if journal.order_for_intent(self.db, it.intent_id) is not None:
            return None
        return self._not_placed(it, "executor_error")

    def _not_placed(self, it, reason: str) -> OrderOutcome:
        journal.set_intent(self.db, it.intent_id, "not_sent", reason)
        return outcome(it.intent_id, "", "not_sent", reason=reason, token=it.token_id, condition=it.condition_id,
                       side=it.side)

    def _send_first(self, row: dict, plan: OrderPlan, book: Book) -> OrderOutcome | None:
        """The first send of a journaled order (counted in its journal commit when sending was allowed)."""
        if not row["posts"]:
            return self.send(row["order_id"], book)
        if self.post_async is None:
            return self._post(row, book)
        self._mark("sent")
        self.in_flight[row["order_id"]] = row
        self.post_async(row, _signed_of(row), plan, book)
        return None

    def complete(self, order_id: str, result: PostResult | None, error: str = "") -> OrderOutcome | None:
        """The answer to an asynchronous first post (None with `error`: the client failed around it)."""
        row = self.in_flight.pop(order_id, None)
        self.marks = []
        self._mark("acked")
        if row is None:
            logger.warning("answer for order {} that is not in flight; ignored", order_id)
            return None
        if result is None:
            logger.error("post of {} failed: {}", order_id, error)
            result = PostResult(kind="unknown", reason="client_error")
        return self.handle(row, result)

    def _plan_of(self, row: dict) -> OrderPlan:
        return self.plans.get(row["order_id"]) or plan_from_row(row)

    def _valid_until(self, market: Market) -> float:
        until = self.clock() + self.cfg.repost_window_s
        return min(until, market.end_ts) if market.end_ts > 0 else until

    def plan(self, approved: ApprovedIntent, market: Market, book: Book) -> OrderPlan:
        it = approved.intent
        if not market.accepting_orders:
            raise PlanRejected("market_closed", "the market does not accept orders")
        tick = book.tick_size or market.tick_size
        min_size = book.min_order_size if book.min_order_size is not None else market.min_order_size
        levels = list(book.asks if it.side == "BUY" else book.bids)
        price = marketable_price(side=it.side, source_price=it.source_price, levels=levels, size=approved.size,
                                 tick=tick, slippage=Slippage.from_config(self.cfg))
        size = approved.size
        if it.side == "BUY" and 0 < approved.max_notional_usd < size * price:  # stay inside the reservation
            size = (approved.max_notional_usd / price).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        return plan_order(token_id=it.token_id, side=it.side, size=size, price=price, tick=tick, min_size=min_size,
                          order_type=self.cfg.time_in_force)

    def sign(self, plan: OrderPlan, market: Market, intent_id: str) -> SignedOrder:
        if self.signer is None:  # dry run without a key: priced and sized, not signed
            body = json.dumps({"tokenId": plan.token_id, "side": plan.side, "price": str(plan.price),
                               "makerAmount": str(plan.maker_amount), "takerAmount": str(plan.taker_amount)})
            oid = "unsigned:" + hashlib.sha256(intent_id.encode()).hexdigest()[:32]
            return SignedOrder(order_id=oid, order_json=body, order_type=plan.order_type, maker="", domain_version="")
        return self.signer.sign(plan, version=market.version, neg_risk=market.neg_risk)

    # ------------------------------------------------------------ posting and its results

    def send(self, order_id: str, book: Book | None = None) -> OrderOutcome | None:
        """Send a journaled order that is not at the venue (never sent, absent on lookup, or refused with
        a back-off); every path that posts comes through here or through the first post."""
        row = journal.get_order(self.db, order_id)
        if not self.sending_allowed:
            journal.update_order(self.db, order_id, state="expired", reason="kill_switch")
            return self._final(row, "not_sent", "kill_switch")
        if row["posts"] >= self.cfg.max_posts_per_order:
            logger.warning("order {} was posted {} times, the most allowed; not again", order_id, row["posts"])
            journal.update_order(self.db, order_id, state="expired", reason="max_posts")
            return self._final(row, "not_sent", "max_posts")
        journal.count_post(self.db, order_id)  # from here on the order may have left
        return self._post(journal.get_order(self.db, order_id), book)

    def _post(self, row: dict, book: Book | None) -> OrderOutcome | None:
        """Post a journaled order whose send is already counted, and handle the venue's answer."""
        order_id = row["order_id"]
        self._mark("sent")
        try:
            result = self.poster.post(_signed_of(row), self._plan_of(row), book)
            self._mark("acked")
        except Exception as e:  # noqa: BLE001 - an unexpected failure around the post is an unknown outcome
            logger.exception("post of {} failed: {}", order_id, e)
            result = PostResult(kind="unknown", reason="client_error")
        return self.handle(row, result)


def _signed_of(row: dict) -> SignedOrder:
    return SignedOrder(order_id=row["order_id"], order_json=row["order_json"], order_type=row["order_type"],
                       maker="", domain_version="")


def plan_from_row(row: dict) -> OrderPlan:
    """The plan an order was journaled with, read back from the journal (after a restart)."""
    signed = json.loads(row["order_json"])
    return OrderPlan(token_id=row["token_id"], side=row["side"], order_type=row["order_type"], price=row["price"],
                     size=row["size"], notional=row["notional"], maker_amount=int(signed["makerAmount"]),
                     taker_amount=int(signed["takerAmount"]), tick_size=row["tick_size"])
