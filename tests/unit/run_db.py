"""A run's database written with the store's own functions: source fills on two 15-minute markets,
decisions (approved, clipped, rejected, dropped), orders (filled, partial, rejected, not sent).
Used by the copybook, live view and report tests."""
from __future__ import annotations

import time
from decimal import Decimal

from polycopy.messages import CopyIntent, SourceFill
from polycopy.store import exposure, journal
from polycopy.store import fills as fills_store
from polycopy.store.db import open_db

D = Decimal
START = 1765071000  # a window start: 8:30 PM ET on Dec 6 2025
BTC_UP = "11" * 20  # 40-digit token ids, long enough to be shortened for people
BTC_DOWN = "22" * 20
SLUG = f"btc-updown-15m-{START}"


def fill(n: int, token: str, outcome: str, side: str, price: str, size: str, ts_ms: int) -> SourceFill:
    return SourceFill(key=f"0xt{n}|{token}|{side}|{price}|{size}|0", source_wallet="0xsrc", condition_id="0xc1",
                      token_id=token, outcome=outcome, side=side, price=D(price), size=D(size), tx_hash=f"0xt{n}",
                      source_ts_ms=ts_ms, feed="rtds", recv_mono_ns=1, slug=SLUG)


def intent(n: int, token: str, side: str, price: str, size: str, ts_ms: int) -> CopyIntent:
    return CopyIntent(intent_id=f"i{n}", token_id=token, condition_id="0xc1", side=side, size=D(size),
                      source_price=D(price), source_size=D(size), fill_keys=(f"0xt{n}|{token}",),
                      first_recv_mono_ns=1, source_ts_ms=ts_ms)


def make_run_db(path, n_copies: int = 24):
    """The database of a short paper run: `n_copies` BUY copies of BTC Up (mostly filled, some
    partial, some not sent), two rejections, one drop, one SELL of BTC Down."""
    db = open_db(path)
    for ensure in (fills_store.ensure, exposure.ensure, journal.ensure):
        ensure(db)
    now = time.time()
    t0 = int((now - 600) * 1000)
    fills, decisions = [], []
    for n in range(n_copies):
        ts = t0 + n * 20_000
        price = f"0.{50 + n % 5}"
        fills.append(fill(n, BTC_UP, "Up", "BUY", price, "10", ts))
        decisions.append((intent(n, BTC_UP, "BUY", price, "10", ts), "approved", "ok", D(10)))
    fills.append(fill(900, BTC_DOWN, "Down", "SELL", "0.40", "5", t0))
    decisions.append((intent(900, BTC_DOWN, "SELL", "0.40", "5", t0), "clipped", "cap_market", D(4)))
    for n, why in ((901, "cap_daily"), (902, "near_expiry")):
        fills.append(fill(n, BTC_UP, "Up", "BUY", "0.55", "3", t0 + 5000))
        decisions.append((intent(n, BTC_UP, "BUY", "0.55", "3", t0 + 5000), "rejected", why, D(0)))
    fills_store.save_new_fills(db, fills, {f.key: "routed" for f in fills})
    for it, decision, reason, size in decisions:
        exposure.save_decision(db, it, decision, reason, size, size * it.source_price, recv_to_risk_ms=2.0 + len(it.intent_id))
    exposure.save_dropped(db, "i999", "below_min_size", D("0.5"))
    for n in range(n_copies):
        it = decisions[n][0]
        if n % 7 == 6:
            journal.save_intent(db, intent_id=it.intent_id, token_id=BTC_UP, condition_id="0xc1", side="BUY",
                                size=D(10), source_price=it.source_price, max_notional=D(6))
            journal.set_intent(db, it.intent_id, "not_sent", "beyond_slippage: best 0.60 past 0.56")
            continue
        got = D(10) if n % 5 else D(6)
        paid = it.source_price + D("0.01") * (n % 3 - 1)
        order(db, it, f"o{n}", got, got * paid, signed_ts=it.source_ts_ms / 1000 + 1.5 + n % 4 * 0.5)
    sell = decisions[n_copies][0]
    order(db, sell, "o900", D(4), D("1.56"), signed_ts=sell.source_ts_ms / 1000 + 2.0)
    rej = intent(903, BTC_UP, "BUY", "0.5", "10", t0)
    order(db, rej, "o903", D(0), D(0), signed_ts=now - 10, state="rejected", reason="fak_no_match")
    return db


def order(db, it: CopyIntent, oid: str, got: Decimal, usd: Decimal, signed_ts: float, state: str = "accepted",
          reason: str = "matched") -> None:
    journal.save_intent(db, intent_id=it.intent_id, token_id=it.token_id, condition_id="0xc1", side=it.side,
                        size=it.size, source_price=it.source_price, max_notional=D(10))
    journal.journal_order(db, order_id=oid, intent_id=it.intent_id, token_id=it.token_id, condition_id="0xc1",
                          side=it.side, price=it.source_price, size=it.size, notional=it.size * it.source_price,
                          order_type="FAK", order_json="{}", mode="paper", valid_until_ts=0, park_until_ts=0,
                          tick_size=D("0.01"), signed_ts=signed_ts)
    journal.update_order(db, oid, state=state, reason=reason, filled_size=got, filled_notional=usd,
                         matched_ts=signed_ts + 0.05 if state == "accepted" else 0.0)
