"""python -m bench.capital [--windows 62] [--no-redeem] [--bankroll-windows 3]

The capital lifecycle, compressed: polysim rolls a one-minute Up/Down series (`window_s: 60`) that
resolves at each window's end; the source buys four times early in every window (Up in seven
windows of ten; Up always wins); the real system (run.py --live, a proxy wallet redeeming through
polysim's relayer) copies under caps that spend at most one market's cap per window, from a
bankroll those caps would exhaust within `--bankroll-windows` windows if nothing came back.

Reports windows traded, what we copied against what the caps allow, redemptions (count, pUSD,
time from resolution to credit), intents refused `insufficient_balance`, venue balance rejects
(must be 0), PnL ours vs the source (the ledger's table, and the venue's own balance), the low
balance / blocked-for-balance alerts, and the balance curve (pUSD on chain, sampled). Writes
bench/results/capital.json (or capital_no_redeem.json with --no-redeem).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import requests
import yaml

from bench import collect
from bench.machine import quantiles, write_result
from bench.system import BenchSystem
from polycopy.config import load_config
from polycopy.policy.risk import ExposureBook, Limits, decide, entry_for
from polycopy.sim.markets import condition_id
from polycopy.sim.venue.wallets import wallets_of

OURS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # the Hardhat #0 key BenchSystem runs with
PROXY = sorted(wallets_of(OURS, 1))[0]
RELAYER_KEY = "bench-capital-relayer-key"
WINDOW_S = 60
FILLS_AT_S = (5, 10, 15, 20)  # into each window
FILL_SIZE, FILL_PRICE = Decimal("10"), Decimal("0.50")
CAP_MARKET = Decimal("20")
DOWN_WINDOWS = (3, 7, 9)  # of every ten, the source buys Down (and loses)
PUSD = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"

OVERRIDES = {
    "copy": {"copy_mode": "fill_by_fill"},
    "sizing": {"max_notional_per_order_usd": 10, "max_notional_per_market_usd": int(CAP_MARKET),
               "max_total_notional_per_15m_window_usd": 400},  # 15 one-minute markets share a 15-minute bucket
    "risk": {"max_daily_volume_usd": 100000, "max_portfolio_notional_usd": 1000, "kill_p95_internal_ms": 600000},
    "execution": {"max_slippage_bps": 500, "near_expiry_cutoff_seconds": 10},
    "reconcile": {"enabled": False},  # the capital path alone
    "capital": {"balance_poll_s": 2, "pnl_interval_s": 10, "low_balance_alert_usd": 25},
    "redeem": {"interval_s": 2, "delay_after_resolution_s": 0, "poll_ms": 200},
    "actors": {"pong_timeout_ms": 20000},
}


def scenario(bankroll: Decimal) -> dict:
    return {"name": "bench-capital", "seed": 17, "source": {"wallet": "0x1d0034134e339a309700ff2d34e99fa2d48b0313"},
            "series": [{"asset": "eth", "title": "Ethereum", "window_s": WINDOW_S, "lookback_windows": 2,
                        "lookahead_windows": 1, "fee_rate": "0"}],
            "default_book": {"mid": "0.50", "spread": "0.02", "levels": 8, "size": "1000000"},
            "resolution": {"delay_s": 0, "winners": {"eth": "Up"}},
            "accounts": [{"address": PROXY, "pusd": str(bankroll)}],
            "relayer": {"api_keys": [{"key": RELAYER_KEY, "address": OURS}], "step_ms": 100},
            "feeds": {"rtds_lag_ms": {"orders_matched": 100, "trades": 100}, "data_api_lag_ms": 1000,
                      "noise_per_s": 0}}


def allowed_per_window(cfg) -> Decimal:
    """Shares the caps alone let us buy from one window's four fills (risk's own rules, no balance)."""
    from polycopy.messages import CopyIntent, Market

    lim, book, end = Limits.from_config(cfg), ExposureBook(), 2_000_000_000
    m = Market(condition_id="0xc", token_ids=("u", "d"), outcomes=("Up", "Down"), end_ts=end,
               tick_size=Decimal("0.01"), min_order_size=Decimal("5"), neg_risk=False)
    total = Decimal(0)
    for i in range(len(FILLS_AT_S)):
        it = CopyIntent(intent_id=f"i{i}", token_id="u", condition_id="0xc", side="BUY", size=FILL_SIZE,
                        source_price=FILL_PRICE, source_size=FILL_SIZE, fill_keys=(), first_recv_mono_ns=0,
                        market=m)
        d = decide(it, end - 50, lim, book)
        if d.approved:
            book.add(entry_for(it, d))
            total += d.size
    return total


def pusd_on_chain(bs) -> Decimal:
    data = "0x70a08231" + PROXY[2:].lower().rjust(64, "0")
    r = requests.post(bs.endpoints["polygon_rpc"], json={"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                                                         "params": [{"to": PUSD, "data": data}, "latest"]}, timeout=5)
    return Decimal(int(r.json()["result"], 16)) / 1_000_000


def drive(bs, windows: int, t0: float) -> tuple[list, list]:
    """Post the source's fills window by window; sample the balance meanwhile. Returns (windows
    driven as (start, outcome), balance curve)."""
    driven, curve, next_sample = [], [], 0.0
    first = (int(time.time()) // WINDOW_S + 1) * WINDOW_S
    for k in range(windows):
        start = first + k * WINDOW_S
        outcome = "Down" if k % 10 in DOWN_WINDOWS else "Up"
        driven.append((start, outcome))
        for at in FILLS_AT_S:
            while time.time() < start + at:
                if time.time() >= next_sample:
                    curve.append((round(time.time() - t0, 1), str(pusd_on_chain(bs))))
                    next_sample = time.time() + 10
                time.sleep(0.05)
            bs.control("POST", "/fills", {"market": "eth", "outcome": outcome, "side": "BUY",
                                          "price": str(FILL_PRICE), "size": str(FILL_SIZE)})
    return driven, curve


def alerts(bs) -> Counter:
    """The alerts telemetry raised ("ALERT name: ...") and resolved, by name."""
    return collect.log_counts(bs, "telemetry", r"^ALERT (\w+)( resolved)?:",
                              lambda m: m.group(1) + (" resolved" if m.group(2) else ""))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.capital", description=__doc__.split("\n")[0])
    p.add_argument("--windows", type=int, default=62)
    p.add_argument("--bankroll-windows", type=int, default=3, help="the bankroll is this many windows' cap")
    p.add_argument("--no-redeem", action="store_true", help="redeemer off: balance refusals instead of credits")
    args = p.parse_args(argv)
    bankroll = CAP_MARKET * args.bankroll_windows
    tmp = Path(tempfile.mkdtemp(prefix="bench-capital-"))
    path = tmp / "capital.yaml"
    path.write_text(yaml.safe_dump(scenario(bankroll), sort_keys=False))
    overrides = {**OVERRIDES, "redeem": {**OVERRIDES["redeem"], "enabled": not args.no_redeem}}
    env = {"POLYCOPY_SIGNATURE_TYPE": "1", "POLYCOPY_FUNDER": PROXY, "POLYCOPY_RELAYER_API_KEY": RELAYER_KEY,
           "POLYCOPY_RELAYER_API_KEY_ADDRESS": OURS}
    with BenchSystem(path, overrides, name="capital", env=env) as bs:
        bs.wait_ready()
        t0 = time.time()
        driven, curve = drive(bs, args.windows, t0)
        end_by = driven[-1][0] + WINDOW_S + 45  # the last window resolves, is redeemed, is read by the ledger
        while time.time() < end_by:
            time.sleep(1)
        curve.append((round(time.time() - t0, 1), str(pusd_on_chain(bs))))
        final_pusd = pusd_on_chain(bs)
        cfg = load_config(bs.config_path)
    result = report(bs, cfg, driven, curve, bankroll, final_pusd, args)
    write_result("capital_no_redeem" if args.no_redeem else "capital", result)
    return 0


def report(bs, cfg, driven, curve, bankroll, final_pusd, args) -> dict:
    per_window = allowed_per_window(cfg)
    by_cid = {condition_id(f"eth-updown-1m-{start}"): (start, outcome) for start, outcome in driven}
    filled: dict[str, Decimal] = {}
    for o in bs.db_rows("SELECT condition_id, filled_notional FROM exec_orders WHERE state='accepted'"):
        filled[o["condition_id"]] = filled.get(o["condition_id"], Decimal(0)) + Decimal(o["filled_notional"] or "0")
    traded = [cid for cid in by_cid if filled.get(cid, 0) > 0]
    approved = sum((Decimal(d["size"]) for d in bs.db_rows("SELECT condition_id, size FROM decisions WHERE decision "
                                                           "IN ('approved', 'clipped')") if d["condition_id"] in by_cid),
                   Decimal(0))  # shares risk approved (a FAK BUY then spends their pUSD at the book's price)
    decisions = Counter(f"{d['decision']}:{d['reason']}" for d in bs.db_rows("SELECT decision, reason FROM decisions"))
    refusals = {k: v for k, v in decisions.items() if k.endswith("insufficient_balance")}
    venue_rejects = Counter(i["reason"] for i in bs.db_rows("SELECT reason FROM exec_intents WHERE state='rejected'"))
    records = bs.records()["clob"]
    refused_posts = sum(1 for r in records if r.get("path") == "/order" and r.get("status") == 400)
    red = bs.db_rows("SELECT * FROM redemptions")
    done = [r for r in red if r["kind"] == "redeem" and r["state"] == "done" and Decimal(r["credited_usd"]) > 0]
    waits = [r["done_ts"] - r["resolved_ts"] for r in done if r["resolved_ts"]]
    pnl_rows = bs.db_rows("SELECT * FROM pnl_markets")
    total = lambda col: str(sum((Decimal(r[col]) for r in pnl_rows), Decimal(0)))  # noqa: E731
    owed = sum((Decimal(r["ours_unredeemed"]) for r in pnl_rows), Decimal(0))
    return {
        "redeemer": not args.no_redeem, "windows": len(driven), "windows_traded": len(traded),
        "bankroll_usd": str(bankroll), "bankroll_windows": args.bankroll_windows,
        "cap_per_window_usd": str(CAP_MARKET), "allowed_shares_per_window": str(per_window),
        "approved_shares": str(approved), "allowed_shares": str(per_window * len(driven)),
        "copied_vs_caps": round(float(approved / (per_window * len(driven))), 4) if driven else None,
        "filled_usd": str(sum(filled.values(), Decimal(0))),
        "redemptions": {"count": len(done), "usd": str(sum((Decimal(r["credited_usd"]) for r in done), Decimal(0))),
                        "lost_closed_out": sum(1 for r in red if r["kind"] == "lost"),
                        "not_done": {f"{r['kind']}:{r['state']}": 1 for r in red if r["state"] != "done"},
                        "resolution_to_credit_s": quantiles(waits)},
        "insufficient_balance": refusals, "risk_decisions": dict(decisions),
        "venue_balance_rejects": sum(v for k, v in venue_rejects.items() if k == "balance"),
        "order_posts_answered_400": refused_posts,  # any reason (polysim's records keep no text)
        "venue_rejects_by_reason": dict(venue_rejects),
        "pnl": {"ours_total": total("ours_total"), "ours_realised": total("ours_realised"),
                "ours_unrealised": total("ours_unrealised"), "ours_redeemed": total("ours_redeemed"),
                "source_total": total("source_total"), "tracking_error": total("tracking_error"),
                "markets": len(pnl_rows)},
        "venue_truth": {"final_pusd": str(final_pusd), "unredeemed_payouts_usd": str(owed),
                        "pnl_usd": str(final_pusd + owed - bankroll)},
        "alerts": dict(alerts(bs)), "balance_curve": curve,
        "restarts": bs.restarts(), "config_overrides": bs.overrides, "run_dir": str(bs.dir),
        "scenario": "generated by bench/capital.py (written to the run dir)",
    }


if __name__ == "__main__":
    raise SystemExit(main())
