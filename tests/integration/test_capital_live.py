"""The capital lifecycle, live, against polysim: the whole multiprocess system copies a source BUY,
the market resolves, the redeemer redeems our position once through the official SDK (a proxy
wallet through the relayer, an EOA through the Polygon JSON-RPC), the balance is credited, and the
ledger's PnL matches a hand computation."""
from __future__ import annotations

import sqlite3
from decimal import Decimal as D

import pytest
import requests

from polycopy.sim.scenario import parse
from polycopy.sim.venue.wallets import wallets_of
from tests.integration.livesim import OURS, live_system
from tests.integration.test_supervision import wait_for

pytestmark = pytest.mark.integration

RELAYER_KEY = "polysim-capital-relayer-key"
PROXY = sorted(wallets_of(OURS, 1))[0]
SOURCE = "0x1d0034134e339a309700ff2d34e99fa2d48b0313"


def scenario(wallet: str, markets=("cap-a",), step_ms: int = 50):
    return parse({
        "name": "capital", "seed": 21,
        "markets": [{"slug": m, "outcomes": ["Up", "Down"]} for m in markets],
        "accounts": [{"address": wallet, "pusd": "100"}],
        "relayer": {"api_keys": [{"key": RELAYER_KEY, "address": OURS}], "step_ms": step_ms},
        "feeds": {"rtds_lag_ms": {"orders_matched": 0, "trades": 0}, "data_api_lag_ms": 0, "noise_per_s": 0},
    })


SECTIONS = dict(
    copy={"copy_mode": "fill_by_fill"}, reconcile={"enabled": False},
    execution={"max_slippage_bps": 500, "near_expiry_cutoff_seconds": 5},
    redeem={"interval_s": 1, "delay_after_resolution_s": 0, "poll_ms": 100},
    capital={"balance_poll_s": 1, "pnl_interval_s": 1, "fee_reserve_bps": 0},
)
PROXY_ENV = {"POLYCOPY_SIGNATURE_TYPE": "1", "POLYCOPY_FUNDER": PROXY, "POLYCOPY_RELAYER_API_KEY": RELAYER_KEY,
             "POLYCOPY_RELAYER_API_KEY_ADDRESS": OURS}


def db_rows(lv, sql, args=()):
    con = sqlite3.connect(lv.config.store.path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, args)]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def control(lv, path, body):
    r = requests.post(lv.sim.endpoints["control"] + path, json=body, timeout=10)
    r.raise_for_status()
    return r.json()


def copy_one_buy(lv, slug="cap-a"):
    """The source buys 20 Up at 0.50; our copy fills 20 at the book's ask, 0.51."""
    m = lv.sim.catalog.by_slug[slug].market
    control(lv, "/fills", {"market": slug, "outcome": "Up", "side": "BUY", "price": "0.50", "size": "20"})
    wait_for(lambda: db_rows(lv, "SELECT * FROM exec_orders WHERE condition_id=? AND state='accepted' "
                                 "AND filled_size != '0'", [m.condition_id]), 30, "our copy to fill")
    return m


def redemption(lv, cid):
    rows = db_rows(lv, "SELECT * FROM redemptions WHERE condition_id=?", [cid])
    return rows[0] if rows and rows[0]["state"] == "done" else None


@pytest.mark.parametrize("kind", ["proxy", "eoa"])
def test_a_resolved_position_is_redeemed_once_credited_and_accounted(tmp_path, kind):
    wallet = PROXY if kind == "proxy" else OURS
    env = PROXY_ENV if kind == "proxy" else {}
    with live_system(tmp_path, scenario(wallet), env=env, **SECTIONS) as lv:
        m = copy_one_buy(lv)
        (order,) = db_rows(lv, "SELECT * FROM exec_orders WHERE condition_id=?", [m.condition_id])
        assert (D(order["filled_size"]), D(order["filled_notional"])) == (D("20"), D("10.20"))  # 20 x 0.51
        assert lv.sim.call(lv.sim.venue.balance, wallet) == D("89.80")
        control(lv, "/resolve", {"market": "cap-a", "winner": "Up"})
        row = wait_for(lambda: redemption(lv, m.condition_id), 60, "the redemption")
        assert (row["kind"], D(row["credited_usd"]), row["attempts"]) == ("redeem", D("20"), 1)
        assert lv.sim.call(lv.sim.venue.balance, wallet) == D("109.80")  # 89.80 + 20 winning shares x 1
        if kind == "proxy":
            txs = [t for t in lv.sim.relayer.txs.values() if t["proxy_wallet"].lower() == wallet.lower()]
            assert [(t["type"], t["state"]) for t in txs] == [("PROXY", "STATE_CONFIRMED")]
        else:
            assert lv.sim.relayer.txs == {} and len(lv.sim.polygon.receipts) == 1
        # the ledger reads the credit and tells risk; --status shows it
        wait_for(lambda: lv.status()["telemetry"].get("capital", {}).get("balance_usd") == "109.8", 30,
                 "the credited balance in --status")
        # PnL by hand: ours 20 x 1 redeemed - 10.20 paid = 9.80; the source's 20 x 1 (unredeemed) - 10.00 = 10;
        # tracking error 9.80 - 10 x 1.0 = -0.20
        pnl = wait_for(lambda: [r for r in db_rows(lv, "SELECT * FROM pnl_markets WHERE condition_id=?",
                                                   [m.condition_id]) if r["ours_redeemed"] == "20.000000"],
                       30, "the PnL row")[0]
        assert (pnl["resolved"], pnl["ours_cost"], pnl["ours_total"], pnl["source_total"], pnl["tracking_error"]) == (
            1, "10.200000", "9.800000", "10.000000", "-0.200000")
        status_pnl = lv.status()["telemetry"]["pnl"]
        assert status_pnl["ours_total"] == "9.800000" and status_pnl["tracking_error"] == "-0.200000"
