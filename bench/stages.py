"""python -m bench.stages [--n 1000]

The compute cost of each hot-path step, in one process with no actor hops, using the same
functions the actors call (so the difference from the live segments is messaging and queueing):
decode (RTDS frame -> SourceFill), intake (dedupe insert, committed), coalesce (fill -> CopyIntent),
risk (decision + exposure entry, committed), price (journal the intent, price and size), sign
(EIP-712 digest and signature), journal (journal the signed order with its first send counted).
`post` needs a venue: it is the live run's `post` segment in latency.json. Baseline in the same
run: `sign_sdk`, the same signature through the SDK and eth_account's typed-data encoder (what
`sign` did before; it must give the same bytes, tests/unit/test_clob_fast_sign.py).

The connections are the system's: intake and risk commit on one with `store.synchronous`
(NORMAL), price and journal on the executor's, NORMAL too, whose journal commit (the signed order,
a POST follows) is always FULL (`durable`: the WAL is fsynced, store/db.py). `stages_ms` is that
shipped setup; `journal_synchronous` runs the same stages again with the executor's connection
FULL, as it was before (every executor commit fsynced: `price` pays it too).
"""
from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench.machine import quantiles, write_result
from polycopy import runner
from polycopy.config import load_config
from polycopy.messages import ApprovedIntent, CopyIntent, Market
from polycopy.policy.coalesce import BurstCoalescer, CoalesceParams, Emit, intent_id_for
from polycopy.policy.risk import ExposureBook, Limits, decide, entry_for
from polycopy.policy.sizing import SizingParams
from polycopy.store import exposure, journal
from polycopy.store import fills as fill_store
from polycopy.store.db import DURABLE, open_db
from polycopy.venue import clob
from polycopy.venue.placer import Placer
from polycopy.wire.clob import Book, Level
from polycopy.wire.source_fill import Occurrences, fill_from_trade
from polycopy.wire.rtds import frame_trade, parse_frame, wallet_of

REPO = Path(__file__).resolve().parent.parent
WALLET = "0x1d0034134e339a309700ff2d34e99fa2d48b0313"
TOKEN = "72551024098258542594534683942523606143014690620243023298497729957846870197074"
CONDITION = "0x1d8720896546460a48d4f7fd5b3f0705a8d427921222de498d1cd334d4890c52"
STAGES = ("decode", "intake", "coalesce", "risk", "price", "sign", "journal")


def frame_text(i: int) -> str:
    return json.dumps({"connection_id": "bench", "topic": "activity", "type": "orders_matched",
                       "timestamp": int(time.time() * 1000), "payload": {
                           "asset": TOKEN, "conditionId": CONDITION, "eventSlug": "btc-updown-15m-bench",
                           "outcome": "Up", "outcomeIndex": 0, "price": 0.52, "proxyWallet": WALLET.upper(),
                           "side": "BUY", "size": 10 + i % 7, "slug": "btc-updown-15m-bench",
                           "timestamp": int(time.time()), "title": "bench", "name": "", "pseudonym": "",
                           "transactionHash": "0x" + secrets.token_hex(32), "bio": "", "icon": "",
                           "profileImage": ""}})


def measure(n: int = 1000, journal_synchronous: str = "NORMAL") -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-stages-"))
    over = {"copy": {"copy_mode": "fill_by_fill"}, "execution": {"max_slippage_bps": 5000},
            "sizing": {"max_notional_per_market_usd": 1_000_000, "max_total_notional_per_15m_window_usd": 1_000_000},
            "risk": {"max_daily_volume_usd": 10_000_000, "max_portfolio_notional_usd": 10_000_000},
            "store": {"path": str(tmp / "bench.sqlite")}}
    cfg = load_config(REPO / "config.yaml", over)
    db = open_db(cfg.store.path, cfg.store.synchronous)
    fill_store.ensure(db)
    exposure.ensure(db)
    jdb = open_db(cfg.store.path, journal_synchronous)  # the executor's own connection
    journal.ensure(jdb)
    signer = clob.ClobSigner(runner.SIM_TEST_KEY, chain_id=137)
    placer = Placer(jdb, poster=None, signer=signer, exec_config=cfg.execution)
    facts = Market(condition_id=CONDITION, token_ids=(TOKEN, "1"), outcomes=("Up", "Down"),
                        end_ts=int(time.time()) + 86400, tick_size=Decimal("0.01"), min_order_size=Decimal("5"),
                        neg_risk=False, version="v1")
    book = Book(asks=tuple(Level(Decimal(p), Decimal("1000000")) for p in ("0.53", "0.54", "0.55")),
                bids=tuple(Level(Decimal(p), Decimal("1000000")) for p in ("0.51", "0.50")),
                tick_size=Decimal("0.01"), min_order_size=Decimal("5"), neg_risk=False)
    burst = BurstCoalescer(CoalesceParams.from_config(cfg), SizingParams.from_config(cfg, facts))
    limits, ebook, occ = Limits.from_config(cfg), ExposureBook(), Occurrences()
    times = {s: [] for s in STAGES + ("sign_sdk",)}
    texts = [frame_text(i) for i in range(n)]
    for i, text in enumerate(texts):
        t0 = time.perf_counter_ns()
        now_s = time.time()
        frame = parse_frame(text, now_s)
        assert wallet_of(frame) == WALLET
        f = fill_from_trade(frame_trade(frame, now_s), feed="rtds", recv_mono_ns=time.monotonic_ns(),
                            envelope_ts_ms=frame.envelope_ts_ms, occurrence=lambda b: occ.next(frame.type, b))
        t1 = time.perf_counter_ns()
        new = fill_store.save_new_fills(db, [f], {f.key: "routed"})
        t2 = time.perf_counter_ns()
        emit = next(a for a in burst.add(new, time.monotonic_ns()) if isinstance(a, Emit))
        pc = emit.piece
        intent = CopyIntent(intent_id=intent_id_for(pc.fill_keys), token_id=TOKEN, condition_id=CONDITION,
                            side=pc.side, size=emit.size, source_price=pc.source_price, source_size=pc.source_size,
                            fill_keys=pc.fill_keys, first_recv_mono_ns=pc.first_recv_ns, source_ts_ms=pc.source_ts_ms,
                            reason=emit.reason, opening=True, market=facts)
        t3 = time.perf_counter_ns()
        d = decide(intent, time.time(), limits, ebook, False)
        entry = entry_for(intent, d)
        exposure.save_entry(db, entry)
        ebook.add(entry)
        t4 = time.perf_counter_ns()
        approved = ApprovedIntent(intent=intent, size=d.size, max_notional_usd=d.notional_usd, decision=d.decision)
        journal.save_intent(jdb, intent_id=intent.intent_id, token_id=TOKEN, condition_id=CONDITION, side="BUY",
                            size=approved.size, source_price=intent.source_price, max_notional=d.notional_usd)
        plan = placer.plan(approved, facts, book)
        t5 = time.perf_counter_ns()
        signed = signer.sign(plan, version=facts.version, neg_risk=facts.neg_risk)
        t6 = time.perf_counter_ns()
        journal.journal_order(jdb, order_id=signed.order_id, intent_id=intent.intent_id, token_id=TOKEN,
                              condition_id=CONDITION, side=plan.side, price=plan.price, size=plan.size,
                              notional=plan.notional, order_type=plan.order_type, order_json=signed.order_json,
                              mode="live", valid_until_ts=time.time() + 10, park_until_ts=time.time() + 30,
                              tick_size=plan.tick_size, signed_ts=time.time(), posts=1)
        t7 = time.perf_counter_ns()
        signer._sign_reference(plan, version=facts.version, neg_risk=facts.neg_risk)
        t8 = time.perf_counter_ns()
        for name, a, b in zip(STAGES + ("sign_sdk",), (t0, t1, t2, t3, t4, t5, t6, t7), (t1, t2, t3, t4, t5, t6, t7, t8)):
            times[name].append((b - a) / 1e6)
    out = {name: quantiles(v) for name, v in times.items()}
    out["sum_p50"] = round(sum(out[s]["p50"] for s in STAGES), 3)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1000)
    args = p.parse_args(argv)
    stages = measure(args.n)
    full = measure(args.n, DURABLE)
    for name, q in stages.items():
        print(f"{name:16} {q}")
    compare = {sync: {s: r[s] for s in ("price", "journal")} for sync, r in (("NORMAL", stages), (DURABLE, full))}
    for sync, r in compare.items():
        print(f"executor's connection {sync:6}: price p50 {r['price']['p50']} ms, journal p50 {r['journal']['p50']} ms, "
              f"journal p99 {r['journal']['p99']} ms")
    write_result("stages", {"stages_ms": stages, "journal_synchronous": compare, "n": args.n,
                            "definitions": {"journal_synchronous": "price and journal with the executor's connection "
                                            "NORMAL (shipped: its journal commit FULL) vs FULL throughout, same process, same run"}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
