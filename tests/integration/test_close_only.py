"""The venue turns close-only mid-run (a region 403), in live mode against polysim: the refused BUY is
never posted again, the next BUY copy is refused locally, a SELL of what we hold still goes and
fills, the reconciler does not re-create the refused copy, one alert, and --status says so."""
from __future__ import annotations

import pytest
import requests

from polycopy.sim.scenario import parse
from polycopy.store import exposure, journal
from polycopy.store.db import open_db
from tests.integration.livesim import OURS, live_system
from tests.integration.test_supervision import wait_for

pytestmark = pytest.mark.integration


def inject(sim, side: str, size: str = "12") -> str:
    r = requests.post(sim.endpoints["control"] + "/fills", timeout=5,
                      json={"market": "rain", "outcome": "Yes", "side": side, "price": "0.5", "size": size})
    assert r.status_code == 200, r.text
    return r.json()["records"][0]["token_id"]


def decisions(cfg, corrections: bool = False) -> list[tuple]:
    """Risk's verdicts on copies (or on the reconciler's corrections: intents that cover no fill)."""
    db = open_db(cfg.store.path)
    exposure.ensure(db)
    return [(r["side"], r["decision"], r["reason"]) for r in exposure.load_decisions(db)
            if r["token_id"] and (r["fill_keys"] == "[]") == corrections]


def outcomes(cfg) -> list[tuple]:
    db = open_db(cfg.store.path)
    journal.ensure(db)
    return [(r["side"], r["state"], r["reason"]) for r in db.query(f"SELECT * FROM {journal.INTENTS} ORDER BY created_ts")]


def test_a_region_refusal_mid_run_puts_the_bot_in_close_only_mode(tmp_path):
    scenario = parse({
        "name": "close-only", "seed": 3,
        "markets": [{"slug": "rain", "outcomes": ["Yes", "No"]}],
        "accounts": [{"address": OURS, "pusd": "1000"}],
        "feeds": {"rtds_lag_ms": {"orders_matched": 0, "trades": 0}, "data_api_lag_ms": 0, "noise_per_s": 0},
    })
    with live_system(tmp_path, scenario, copy={"copy_mode": "fill_by_fill"}, execution={"max_slippage_bps": 500},
                     reconcile={"reconcile_interval_s": 2, "settle_s": 0}) as lv:
        sim, cfg = lv.sim, lv.config
        token = inject(sim, "BUY")  # copied as usual: we hold 12 shares
        wait_for(lambda: ("BUY", "filled", "matched") in outcomes(cfg), timeout_s=20, what="the first copy")
        requests.post(sim.endpoints["control"] + "/geoblock", json={"api": "close_only"}, timeout=5).raise_for_status()
        inject(sim, "BUY")  # the venue refuses it: region 403
        wait_for(lambda: ("BUY", "rejected", "region_restricted") in outcomes(cfg), timeout_s=20, what="the 403")
        wait_for(lambda: lv.status()["entries"]["venue_close_only"] == "region_close_only", timeout_s=10,
                 what="close-only mode in --status")
        inject(sim, "BUY")  # refused here, not at the venue
        wait_for(lambda: ("BUY", "rejected", "region_close_only") in decisions(cfg), timeout_s=20,
                 what="a local refusal")
        inject(sim, "SELL", "6")  # reducing what we hold still goes
        wait_for(lambda: ("SELL", "filled", "matched") in outcomes(cfg), timeout_s=20, what="the SELL to fill")
        rounds = lv.status()["telemetry"].get("reconcile", {}).get("rounds", 0)

        def reconciled():  # two more rounds, and the refused copy's drift was seen and left alone
            rec = lv.status()["telemetry"].get("reconcile", {})
            refused = sum(n for k, n in rec.items() if k in ("skip:refused:region_restricted",
                                                              "skip:refused:region_close_only"))
            return rec.get("rounds", 0) >= rounds + 2 and refused > 0
        wait_for(reconciled, timeout_s=30, what="reconcile rounds that leave the refused copy alone")
        # three posts: the first BUY, the 403'd BUY once (never again), the SELL; the third BUY never left
        assert len(lv.posts_for(token)) == 3
        assert outcomes(cfg) == [("BUY", "filled", "matched"), ("BUY", "rejected", "region_restricted"),
                                 ("SELL", "filled", "matched")]
        assert not [d for d in decisions(cfg, corrections=True) if d[0] == "BUY"]  # no BUY re-created
        assert lv.status()["entries"]["paused"] is True
        alerts = [a for a in lv.status()["telemetry"]["alerts_recent"] if "close_only" in str(a)]
        assert len(alerts) == 1
