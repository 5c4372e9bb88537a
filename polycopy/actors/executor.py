"""Executor: ApprovedIntent -> one priced, signed, journaled order -> OrderOutcome to risk.

Modes differ only in the `Poster` (dry_run logs, paper fills against the book, live posts).
In live mode a new order's first POST goes through a small thread pool (actors/post_pool.py):
the executor takes the next intent while the venue answers, and handles the answer when it
comes back on its watched pipe.
A wake-up's approved intents (ApprovedIntents and ApprovedBatches, base.py) are placed together
(`Placer.place_batch`): one commit records the intents, one fsynced commit journals their signed
orders, then each is posted; every order is journaled before its own POST, as alone.
Start-up resolves every journaled order without a final state before any new intent is
admitted. Live mode also sends order heartbeats (a failure stops new orders and alerts) and
follows fills and settlement on the user websocket (MATCHED is provisional; an alert fires
if it is not CONFIRMED within `unconfirmed_fill_alert_s`).

Long because one actor thread joins four event sources: approved intents, the post pool's
answers, the user stream's trades and its timers (retries, heartbeats, settlement checks). The
order logic is in venue/placer.py and venue/followup.py, its construction in bootstrap.py.
"""
from __future__ import annotations

import time
from datetime import timedelta

from polycopy import bootstrap
from polycopy.actors.base import ChildActor
from polycopy.actors.post_pool import PostPool
from polycopy.actors.watcher_io import ThreadBridge
from polycopy.bootstrap import ExecutionPorts
from polycopy.clients.book_cache import PING_EVERY_S, STALE_S, BookCache, run_market_stream
from polycopy.clients.user_stream import run_user_stream
from polycopy.clients.ws import SocketPolicy, socket_policy
from polycopy.config.models import Mode
from polycopy.errors import TemporaryError
from polycopy.ops.console import event
from polycopy.ops.credentials import hint
from polycopy.ops.names import MarketBook
from polycopy.messages import (Alert, ApprovedBatch, ApprovedIntent, CloseOnly, Market, OrderOutcome, PositionsReply,
                               PositionsSnapshot, StageTiming)
from polycopy.store import journal
from polycopy.store.db import open_db
from polycopy.store.user_trades import apply_trade, unconfirmed
from polycopy.venue.followup import outcome
from polycopy.venue.heartbeat import Heartbeats
from polycopy.venue.placer import Placer

RETRY, HEARTBEAT, SETTLE = "exec-retry", "exec-heartbeat", "exec-settle"
# Venue refusals that forbid opening positions from here: the whole system goes close-only.
CLOSE_ONLY = {"region_restricted": "region_close_only", "closed_only": "account_close_only"}
SETTLE_CHECK_S = 5.0


class Executor(ChildActor):
    role = "executor"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.db = self.rest = self.placer = self.signer = self.creds = self.bridge = self.book_bridge = None
        self.posts: PostPool | None = None
        self.corr: dict[str, str] = {}  # intent id -> correlation key, while its first post is in flight
        self.books = BookCache()
        self.markets = MarketBook()  # to name tokens in log lines and alerts
        self.ready = False  # recovery done
        self.retry_pending = False
        self.retry_delay_ms = 0
        self.heartbeats: Heartbeats | None = None
        self.alerted: set[str] = set()

    def make_ports(self, held: dict) -> ExecutionPorts:
        """The composition root builds what this process posts with (tests hand fakes in here)."""
        return bootstrap.execution_ports(self.config, held)

    def on_init(self, msg) -> None:
        cfg, mode = self.config, self.config.execution.mode
        self.db = open_db(cfg.store.path, cfg.store.synchronous)  # each POST's journal commit is FULL (store/db.py)
        journal.ensure(self.db)
        held = journal.held_positions(self.db, Mode.paper.value) if mode is Mode.paper else {}
        ports = self.make_ports(held)
        self.rest, self.signer, self.creds, self.posts, self.heartbeats = (ports.rest, ports.signer, ports.creds,
                                                                           ports.posts, ports.heartbeats)
        self.placer = Placer(self.db, ports.poster, signer=self.signer, exec_config=cfg.execution)
        if self.posts is not None:
            self.placer.post_async = self.posts.submit
        self.log.info("executor ready in {} mode ({})", mode.value, self.signer or "no key: orders unsigned")
        self._recover()
        if cfg.execution.book_from_ws:
            self._start_book_stream()
        if mode is Mode.live:
            if self.heartbeats is not None:
                self.on_wakeup(HEARTBEAT)
            self._start_stream()
        self.wakeupAfter(timedelta(seconds=SETTLE_CHECK_S), payload=SETTLE)

    def receiveMsg_PositionsSnapshot(self, msg: PositionsSnapshot, sender) -> None:
        """Our holdings from our own orders; incomplete until start-up recovery is done."""
        mode = self.config.execution.mode
        held = journal.held_positions(self.db, mode.value) if self.db is not None and mode is not Mode.dry_run else {}
        self.send(sender, PositionsReply(request_id=msg.request_id, positions=tuple(sorted(held.items())),
                                         complete=self.ready and self.placer is not None, mode=mode.value))

    def on_reload(self) -> None:
        if self.placer is not None:
            if self.config.execution.mode.value != self.placer.poster.mode:
                self.log.warning("execution.mode changes only take effect after a restart")
            self.placer.cfg = self.config.execution

    def on_kill_switch(self, msg) -> None:
        if self.placer is not None:
            self.placer.sending_allowed = not self.kill_tripped

    def _recover(self) -> None:
        self.placer.sending_allowed = not self.kill_tripped
        for out in self.placer.recover():
            self._report(out)
        self.ready = not self.placer.pending()
        if not self.ready:
            self.log.warning("orders from before the restart are still unresolved; new intents wait")
            self._schedule_retry()

    def _stream_policy(self) -> SocketPolicy:
        return socket_policy(self.config.detection, silence_s=STALE_S, ping_every_s=PING_EVERY_S)

    def _start_stream(self) -> None:
        self.bridge = ThreadBridge("user-ws")
        url, creds, policy = self.config.venue.clob_ws_user_url, self.creds, self._stream_policy()
        self.bridge.start_async(lambda b: run_user_stream(b, url, creds, policy))

    def _start_book_stream(self) -> None:
        self.book_bridge = ThreadBridge("market-ws")
        url, books, policy = self.config.venue.clob_ws_market_url, self.books, self._stream_policy()
        self.book_bridge.start_async(lambda b: run_market_stream(b, url, books, policy))

    def watch_fds(self) -> list:
        return [b.fd for b in (self.posts, self.bridge, self.book_bridge) if b is not None]

    def on_exit(self) -> None:
        for b in (self.posts, self.bridge, self.book_bridge):
            if b is not None:
                b.close()
        self.posts = self.bridge = self.book_bridge = None
        if self.rest is not None:
            self.rest.close()
        if self.db is not None:
            self.db.conn.close()
            self.db = None

    # ------------------------------------------------------------ messages

    def receiveMsg_Market(self, msg: Market, sender) -> None:
        self.books.want(msg.token_ids)  # the catalog's markets: subscribe to their books before the first intent
        self.markets.add(msg)

    def receiveBatch_ApprovedIntent(self, msgs: list) -> None:
        t_in = time.monotonic_ns()
        jobs, stages = [], []
        for msg in (a for m in msgs for a in (m.items if isinstance(m, ApprovedBatch) else (m,))):
            it = msg.intent
            self.markets.add(it.market)
            blocked = self._blocked() or ("market_unknown" if it.market is None else "")
            if blocked:
                self._report(_not_sent(msg, blocked))
                continue
            marks = [("exec_in", t_in)]
            book = self.books.get(it.token_id)
            if book is None and not self.placer.waiting():
                try:
                    book = self.rest.get_book(it.token_id)
                    marks.append(("exec_book_rest", time.monotonic_ns()))
                except TemporaryError as e:  # the venue asks us to wait: the copy is parked, not dropped
                    self.log.warning("intent {}: no book ({}); parked", it.intent_id, e)
                    self.placer.back_off(e.retry_after_s, "book_unavailable")
            marks.append(("exec_book", time.monotonic_ns()))
            jobs.append((msg, it.market, book))
            stages.append(marks)
        if not jobs:
            return
        try:
            placed = self.placer.place_batch(jobs)
        except Exception as e:  # noqa: BLE001 - never let Thespian re-run a handler that may have posted
            self.log.exception("{} intent(s) failed in the executor: {}", len(jobs), e)
            placed = [(self.placer.unless_journaled(msg.intent), []) for msg, _, _ in jobs]
            self._schedule_retry()
        in_flight = {r["intent_id"] for r in self.placer.in_flight.values()}
        for (msg, _, _), marks, (out, placer_marks) in zip(jobs, stages, placed):
            it = msg.intent
            if out is not None:
                self._report(out)
            key = it.fill_keys[0] if it.fill_keys else it.intent_id
            self.report(StageTiming(key=key, stages=(("recv", it.first_recv_mono_ns), *marks, *placer_marks),
                                    source_ts_ms=it.source_ts_ms))
            if it.intent_id in in_flight:
                self.corr[it.intent_id] = key  # the answer's timing joins this copy
        if self.placer.pending():
            self._schedule_retry()

    receiveBatch_ApprovedBatch = receiveBatch_ApprovedIntent

    def receiveMsg_WatchMessage(self, msg, sender) -> None:
        if self.posts is not None:  # first: the user stream may already report these orders' trades
            for order_id, result, error, done_ns in self.posts.drain():
                self._answered(order_id, result, error, done_ns)
        if self.book_bridge is not None:
            for kind, data in self.book_bridge.drain():  # health changes, or the thread's death
                if kind == "died":
                    self.log.error("market stream thread died: {}; pricing falls back to REST", data)
        if self.bridge is None:
            return
        for kind, data in self.bridge.drain():
            if kind == "event":
                changed = apply_trade(self.db, data, time.time())
                if changed and changed[1] == "FAILED":
                    self._alert("settlement_failed", f"trade for order {changed[0]['order_id']} "
                                f"({self.markets.name(changed[0]['token_id'])}) FAILED on chain")
                late = changed and changed[0]["state"] != "accepted"
                if late and changed[0]["order_id"] not in self.placer.in_flight:  # in flight: its answer is coming
                    self._alert("late_fill", f"order {changed[0]['order_id']} "
                                             f"({self.markets.name(changed[0]['token_id'])}) traded after it was recorded as "
                                             f"{changed[0]['state']}; reconcile positions")
            elif kind == "connected":
                self.log.info("user stream {}", "connected" if data else "disconnected")
            elif kind == "died":
                self.log.error("user stream thread died: {}", data)

    def _answered(self, order_id: str, result, error: str, done_ns: int) -> None:
        row = self.placer.in_flight.get(order_id)
        out = self.placer.complete(order_id, result, error)
        if out is not None:
            self._report(out)
        if self.placer.pending():
            self._schedule_retry()
        key = self.corr.pop(row["intent_id"], "") if row is not None else ""
        if key:
            self.report(StageTiming(key=key, stages=(("acked", done_ns),)))

    # ------------------------------------------------------------ timers

    def on_wakeup(self, payload) -> None:
        if payload == RETRY:
            self.retry_pending = False
            outs = self.placer.retry_due()
            for out in outs:
                self._report(out)
            self._resume_parked()
            base = self.config.execution.retry_check_ms
            stuck = not outs and self.placer.unresolved  # lookups failing: back off, do not hammer a sick venue
            self.retry_delay_ms = min(max(self.retry_delay_ms, base) * 2, 20 * base) if stuck else base
            if self.placer.pending():
                self._schedule_retry()
            elif not self.ready:
                self.ready = True
                self.log.info("all journaled orders resolved; admitting intents")
        elif payload == HEARTBEAT:
            self._heartbeat()
            next_s = self.heartbeats.next_in_s(self.config.execution.heartbeat_interval_s)
            self.wakeupAfter(timedelta(seconds=next_s), payload=HEARTBEAT)
        elif payload == SETTLE:
            for out in self.placer.refresh_pending_fills():
                self._report(out)
            for row in unconfirmed(self.db, time.time(), self.config.execution.unconfirmed_fill_alert_s):
                if row["order_id"] not in self.alerted:
                    self.alerted.add(row["order_id"])
                    self._alert("unconfirmed_fill", f"order {row['order_id']} ({self.markets.name(row['token_id'])}) "
                                                    f"matched but not confirmed "
                                                    f"after {self.config.execution.unconfirmed_fill_alert_s}s")
            self.wakeupAfter(timedelta(seconds=SETTLE_CHECK_S), payload=SETTLE)

    def _resume_parked(self) -> None:
        """Intents parked during a venue back-off: the ended ones are reported, the due ones go now."""
        ready, ended = self.placer.parked_due()
        for out in ended:
            self._report(out)
        for parked in ready:
            token = parked.approved.intent.token_id
            try:
                book = self.books.get(token) or self.rest.get_book(token)
                out = self.placer.resume(parked, book)
            except TemporaryError as e:  # no book now: it stays parked until its time runs out
                self.log.warning("parked intent {}: {}; still parked", parked.approved.intent_id, e)
                self.placer.parking.intents[parked.approved.intent_id] = parked
                continue
            if out is not None:
                self._report(out)

    def _heartbeat(self) -> None:
        was_ok = self.heartbeats.ok
        ok = self.heartbeats.beat()
        self.placer.held = "" if ok else "heartbeat_failed"  # copies wait (parked) until the beats are accepted again
        if ok != was_ok:
            self._alert("heartbeat", "order heartbeats failing: no new orders" if not ok else "order heartbeats ok",
                        resolved=ok)

    # ------------------------------------------------------------ helpers

    def _blocked(self) -> str:
        if self.kill_tripped:
            return "kill_switch"
        if self.placer is None:
            return "executor_not_ready"
        if not self.ready:
            return "recovering"
        return ""

    def _schedule_retry(self) -> None:
        if not self.retry_pending:
            self.retry_pending = True
            self.wakeupAfter(timedelta(milliseconds=self.retry_delay_ms or self.config.execution.retry_check_ms),
                             payload=RETRY)

    def _report(self, out: OrderOutcome) -> None:
        price = out.filled_notional_usd / out.filled_size if out.filled_size > 0 else None
        self.log.bind(**event("order", market=self.markets.get(out.token_id), token_id=out.token_id, side=out.side,
                              size=out.filled_size or None, price=price and round(price, 4), outcome=out.status,
                              reason=out.reason)).info(
            "intent {} -> {} {} ({})", out.intent_id, out.status, out.filled_size, out.reason)
        if out.status == "rejected" and hint(out.reason):
            self._alert("venue_account", f"orders rejected ({out.reason}): {hint(out.reason)}")
        if out.status == "rejected" and out.reason in CLOSE_ONLY and self.parent is not None:
            self.send(self.parent, CloseOnly(reason=CLOSE_ONLY[out.reason],
                                             detail=f"the venue refused {out.side} order {out.order_id[:14]}"))
        self.tell("risk", out)
        self.report(out)


    def _alert(self, condition: str, text: str, resolved: bool = False) -> None:
        self.log.warning("alert {}: {}", condition, text)
        self.report(Alert(condition=condition, text=text, resolved=resolved))


def _not_sent(msg: ApprovedIntent, reason: str) -> OrderOutcome:
    it = msg.intent
    return outcome(it.intent_id, "", "not_sent", reason=reason, token=it.token_id, condition=it.condition_id,
                   side=it.side)
