"""The CLOB as it answers in December 2026: region 403s (close-only, blocked), FAK/FOK answers
without hashes and trades followed by id, the 1,000-id cancel cap, balance-allowance for a
wallet that has not traded yet, and the control knob that shrinks a balance."""
from decimal import Decimal as D

import pytest
import requests
from polymarket import SecureClient

from polycopy.sim.venue.region import REGION_MSG
from polycopy.sim.venue.sdk_env import make_environment
from polycopy.sim.venue.wallets import wallets_of
from tests.sim.venue.helpers import HARDHAT_ADDR, HARDHAT_KEY, T1, T2, sign_order, wait_for


def _order(venue, api, side, price="0.52", size=10, order_type="GTC", salt=1, token=T1):
    shares, pusd = size * 1_000_000, int(D(price) * size * 1_000_000)
    maker, taker = (pusd, shares) if side == "BUY" else (shares, pusd)
    return sign_order(venue, private_key=HARDHAT_KEY, token=token, side=side, maker_amount=maker,
                      taker_amount=taker, owner=api.key, order_type=order_type, salt=salt)


def test_close_only_refuses_buys_and_lets_a_reducing_sell_match(server, venue, api):
    venue.faults.region = "close_only"
    r = server.request("POST", "/order", api, _order(venue, api, "BUY"))
    assert (r.status_code, r.json()) == (403, {"error": REGION_MSG})
    r = server.request("POST", "/order", api, _order(venue, api, "SELL", "0.50", salt=2))
    assert r.status_code == 200 and r.json()["status"] == "matched"  # holds 100 of T1
    r = server.request("POST", "/order", api, _order(venue, api, "SELL", "0.50", salt=3, token=T2))
    assert r.status_code == 403  # holds none of T2: a SELL that would open a position
    batch = [_order(venue, api, "SELL", "0.50", salt=4), _order(venue, api, "BUY", salt=5)]
    assert server.request("POST", "/orders", api, batch).status_code == 403
    venue.faults.region = "blocked"
    assert server.request("POST", "/order", api, _order(venue, api, "SELL", "0.5", salt=6)
                          ).status_code == 403
    venue.faults.region = "open"
    assert server.request("POST", "/order", api, _order(venue, api, "BUY", salt=7)).ok
    statuses = [r["status"] for r in venue.records if r["path"] == "/order"]
    assert statuses == [403, 200, 403, 403, 200]


def test_fak_answer_has_trade_ids_only_and_the_trade_shows_its_hash_once_mined(
        server, venue, api):
    venue.settle_delays_s = (0.5, 0.05)  # MATCHED long enough to be read first
    body = _order(venue, api, "BUY", "0.53", order_type="FAK")
    out = server.request("POST", "/order", api, body).json()
    assert out["status"] == "matched" and "transactionsHashes" not in out
    [trade_id] = out["tradeIDs"]
    first = server.request("GET", "/data/trades", api, params={"id": trade_id}).json()["data"]
    assert [(t["id"], t["status"], t["transaction_hash"]) for t in first] == [
        (trade_id, "MATCHED", "")]
    mined = wait_for(lambda: [t for t in server.request(
        "GET", "/data/trades", api, params={"id": trade_id}).json()["data"]
        if t["transaction_hash"]])
    assert mined[0]["status"] in ("MINED", "CONFIRMED")
    assert mined[0]["transaction_hash"].startswith("0x") and len(mined[0]["transaction_hash"]) == 66
    gtc = server.request("POST", "/order", api, _order(venue, api, "BUY", "0.53", salt=9)).json()
    assert "transactionsHashes" in gtc  # resting orders that match keep the old answer


def test_cancel_takes_at_most_1000_ids(server, api):
    r = server.request("DELETE", "/orders", api, [f"0x{i:064x}" for i in range(1001)])
    assert r.status_code == 400 and "1000" in r.json()["error"]
    r = server.request("DELETE", "/orders", api, [f"0x{i:064x}" for i in range(1000)])
    assert r.status_code == 200 and len(r.json()["not_canceled"]) == 1000


def test_balance_allowance_of_a_proxy_wallet_before_its_first_order(server, venue):
    [proxy] = wallets_of(HARDHAT_ADDR, 1)
    venue.fund(proxy, D("42.5"), {T1: D("3")})
    env = make_environment(server.url, server.ws_url)
    with SecureClient.create(private_key=HARDHAT_KEY, wallet=HARDHAT_ADDR,
                             environment=env) as eoa:
        assert eoa.get_balance_allowance(asset_type="COLLATERAL").balance == 1000 * 10**6
    venue.funders.clear()
    creds = venue.keys.derive(HARDHAT_ADDR, 0)
    headers_for = server.request
    r = headers_for("GET", "/balance-allowance", creds,
                    params={"asset_type": "COLLATERAL", "signature_type": "1"})
    assert r.json()["balance"] == "42500000"
    r = headers_for("GET", "/balance-allowance", creds,
                    params={"asset_type": "CONDITIONAL", "signature_type": "1", "token_id": T1})
    assert r.json()["balance"] == "3000000"


@pytest.mark.parametrize("pusd", ["0", "1.5"])
def test_control_knobs_set_a_small_balance_and_the_region_mode(pusd):
    from polycopy.sim.server import Polysim
    from tests.sim.simkit import OURS, small_scenario

    with Polysim(small_scenario()) as sim:
        r = requests.post(sim.endpoints["control"] + "/accounts",
                          json={"address": OURS, "pusd": pusd}, timeout=5)
        assert r.json()["pusd"] == pusd
        assert sim.call(sim.venue.balance, OURS) == D(pusd)
        bad = requests.post(sim.endpoints["control"] + "/accounts",
                            json={"address": OURS, "pusd": "-1"}, timeout=5)
        assert bad.status_code == 400
        geo = requests.post(sim.endpoints["control"] + "/geoblock",
                            json={"api": "close_only", "blocked": True, "country": "US"}, timeout=5)
        assert geo.json()["api"] == "close_only" and sim.venue.faults.region == "close_only"
        assert requests.get(sim.endpoints["geoblock"], timeout=5).json()["country"] == "US"
        assert requests.post(sim.endpoints["control"] + "/geoblock", json={"api": "closed"},
                             timeout=5).status_code == 400
        requests.post(sim.endpoints["control"] + "/reset", timeout=5)
        assert sim.venue.faults.region == "open"  # the scenario's
