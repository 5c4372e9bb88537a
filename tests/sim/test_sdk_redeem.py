"""SDK 0.14.0, unchanged, redeems against polysim: a PROXY wallet through the relayer, an EOA
through the Polygon JSON-RPC, a deposit wallet through the relayer; and merges. The pUSD
balance grows by the payout, a second redeem pays nothing."""
import time
from decimal import Decimal

import pytest
import requests
from polymarket import RelayerApiKey, SecureClient
from polymarket.errors import TransactionFailedError

from polycopy.sim.server import Polysim
from polycopy.sim.venue.sdk_env import polysim_environment
from polycopy.sim.venue.wallets import wallets_of
from tests.sim.simkit import control, small_scenario
from tests.sim.venue.helpers import HARDHAT_ADDR, HARDHAT_KEY

RELAYER_KEY = "polysim-test-relayer-key"
PROXY = next(iter(wallets_of(HARDHAT_ADDR, 1)))


@pytest.fixture
def sim():
    scenario = small_scenario(accounts=[], relayer={
        "api_keys": [{"key": RELAYER_KEY, "address": HARDHAT_ADDR}], "step_ms": 20})
    with Polysim(scenario) as running:
        yield running


def market(sim):
    return sim.call(sim.catalog.resolve, "btc", time.time()).market


def fund(sim, wallet, pusd, up, down):
    m = market(sim)
    control(sim, "/accounts", {"address": wallet, "pusd": pusd,
                               "positions": {m.tokens[0]: up, m.tokens[1]: down}})
    return m


def client(sim, wallet, api_key=True):
    key = RelayerApiKey(key=RELAYER_KEY, address=HARDHAT_ADDR) if api_key else None
    return SecureClient.create(private_key=HARDHAT_KEY, wallet=wallet,
                               environment=polysim_environment(sim.endpoints, poll_ms=20),
                               api_key=key)


def balance(sim, wallet) -> Decimal:
    return sim.call(sim.venue.balance, wallet)


def test_a_proxy_wallet_redeems_through_the_relayer(sim):
    m = fund(sim, PROXY, "5", "10", "4")
    control(sim, "/resolve", {"market": m.condition_id, "winner": "Up"})
    with client(sim, PROXY) as c:
        outcome = c.redeem_positions(condition_id=m.condition_id).wait()
        assert outcome.transaction_hash.startswith("0x") and outcome.transaction_id
        assert balance(sim, PROXY) == Decimal("15")  # 10 winning shares x 1 + 5
        assert sim.call(sim.venue.positions, PROXY) == {m.tokens[0]: 0, m.tokens[1]: 0}
        assert c.get_balance_allowance(asset_type="COLLATERAL").balance == 15_000_000
        with pytest.raises(TransactionFailedError, match="PRECHECK_SKIPPED"):
            c.redeem_positions(condition_id=m.condition_id).wait()  # nothing left: pays 0
    assert balance(sim, PROXY) == Decimal("15")
    activity = requests.get(sim.endpoints["data_api"] + "/v2/activity", timeout=5,
                            params={"user": PROXY.lower(), "type": "REDEEM"}).json()["data"]
    assert [(a["type"], a["size"], a["usdc_size"], a["condition_id"]) for a in activity] == [
        ("REDEEM", "14", "10", m.condition_id)]
    assert activity[0]["transaction_hash"] == outcome.transaction_hash
    [done, skipped] = sim.relayer.txs.values()
    assert (done["state"], done["type"], skipped["state"]) == (
        "STATE_CONFIRMED", "PROXY", "STATE_FAILED")


def test_an_eoa_redeems_through_the_json_rpc(sim):
    m = fund(sim, HARDHAT_ADDR, "1", "3", "7")
    control(sim, "/resolve", {"market": m.condition_id, "winner": "Down"})
    with client(sim, HARDHAT_ADDR, api_key=False) as c:
        outcome = c.redeem_positions(condition_id=m.condition_id).wait()
        receipt = sim.polygon.receipts[outcome.transaction_hash]
        assert receipt["status"] == "0x1" and receipt["from"] == HARDHAT_ADDR.lower()
        assert balance(sim, HARDHAT_ADDR) == Decimal("8")  # 7 winning NO shares + 1
        again = c.redeem_positions(condition_id=m.condition_id).wait()  # succeeds, pays nothing
        assert sim.polygon.receipts[again.transaction_hash]["status"] == "0x1"
    assert balance(sim, HARDHAT_ADDR) == Decimal("8")
    assert sim.relayer.txs == {}


def test_redeem_before_gamma_says_closed_is_refused_by_the_sdk(sim):
    m = fund(sim, PROXY, "0", "1", "1")
    with client(sim, PROXY) as c:
        with pytest.raises(Exception, match="No market found"):
            c.redeem_positions(condition_id=m.condition_id)


def test_a_deposit_wallet_merges_and_redeems(sim):
    wallet = sorted(wallets_of(HARDHAT_ADDR, 3))[0]
    m = fund(sim, wallet, "0", "6", "4")
    with client(sim, wallet) as c:
        c.merge_positions(condition_id=m.condition_id, amount="max").wait()
        assert balance(sim, wallet) == Decimal("4")
        assert sim.call(sim.venue.positions, wallet) == {m.tokens[0]: 2, m.tokens[1]: 0}
        control(sim, "/resolve", {"market": m.condition_id, "winner": "Up"})
        c.redeem_positions(condition_id=m.condition_id).wait()
    assert balance(sim, wallet) == Decimal("6")
    assert [t["type"] for t in sim.relayer.txs.values()] == ["WALLET", "WALLET"]


def test_a_v2_market_redeems_through_the_router(sim):
    rain = sim.catalog.by_slug["will-it-rain"].market
    assert rain.version == "v2" and rain.condition_id.endswith("00")
    control(sim, "/accounts", {"address": PROXY, "pusd": "0",
                               "positions": {rain.tokens[0]: "2.5", rain.tokens[1]: "1"}})
    control(sim, "/resolve", {"market": rain.slug, "winner": "Yes"})
    with client(sim, PROXY) as c:
        c.redeem_positions(condition_id=rain.condition_id).wait()
        with pytest.raises(Exception, match="no balance to redeem"):
            c.redeem_positions(condition_id=rain.condition_id)  # the SDK reads PositionManager
    assert balance(sim, PROXY) == Decimal("2.5")
    assert sim.call(sim.venue.positions, PROXY) == {rain.tokens[0]: 0, rain.tokens[1]: 0}


def test_the_default_deposit_wallet_is_deployed_through_the_relayer(sim):
    with SecureClient.create(private_key=HARDHAT_KEY, api_key=RelayerApiKey(
            key=RELAYER_KEY, address=HARDHAT_ADDR),
            environment=polysim_environment(sim.endpoints, poll_ms=20)) as c:
        wallet = c.wallet
    [create] = sim.relayer.txs.values()
    assert (create["type"], create["state"]) == ("WALLET-CREATE", "STATE_CONFIRMED")
    assert create["proxy_wallet"].lower() == wallet.lower() in wallets_of(HARDHAT_ADDR, 3)
