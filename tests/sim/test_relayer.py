"""polysim's relayer: auth, signature/nonce/allow-list checks, the adapters vs CTF, neg-risk,
SAFE and Builder keys through the SDK, and the fault knobs."""
import time
from decimal import Decimal

import pytest
import requests
from polymarket import BuilderApiKey, RelayerApiKey, SecureClient
from polymarket.calls import ctf_merge_positions_call, ctf_redeem_positions_call
from polymarket.errors import RequestRejectedError, TimeoutError, TransactionFailedError

from polycopy.sim import chain
from polycopy.sim.server import Polysim
from polycopy.sim.venue.sdk_env import polysim_environment
from polycopy.sim.venue.wallets import wallets_of
from tests.sim.simkit import control, fault, small_scenario
from tests.sim.venue.helpers import HARDHAT_ADDR, HARDHAT_KEY, OTHER_ADDR

KEY = "polysim-test-relayer-key"
BUILDER = BuilderApiKey(key="builder-key-1", secret="c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
                        passphrase="pass")
PROXY = next(iter(wallets_of(HARDHAT_ADDR, 1)))
SAFE = next(iter(wallets_of(HARDHAT_ADDR, 2)))
AUTH = {"RELAYER_API_KEY": KEY, "RELAYER_API_KEY_ADDRESS": HARDHAT_ADDR}


@pytest.fixture
def fresh():
    """A sim per test: a resolved market stays resolved."""
    scenario = small_scenario(
        accounts=[], markets=[{"slug": "nr-market", "neg_risk": True}],
        relayer={"api_keys": [{"key": KEY, "address": HARDHAT_ADDR}], "step_ms": 20,
                 "builder_keys": [{"key": BUILDER.key, "secret": BUILDER.secret,
                                   "passphrase": BUILDER.passphrase}]})
    with Polysim(scenario) as running:
        yield running


def client(sim, wallet, api_key=None, poll_ms=20):
    return SecureClient.create(
        private_key=HARDHAT_KEY, wallet=wallet,
        environment=polysim_environment(sim.endpoints, poll_ms=poll_ms),
        api_key=api_key or RelayerApiKey(key=KEY, address=HARDHAT_ADDR))


def setup(sim, wallet, slug=None, up="10", down="0", pusd=None, resolve="Up"):
    info = sim.catalog.by_slug[slug] if slug else sim.call(sim.catalog.resolve, "btc", time.time())
    m = info.market
    control(sim, "/accounts", {"address": wallet, "positions": {m.tokens[0]: up, m.tokens[1]: down},
                               **({"pusd": pusd} if pusd is not None else {})})
    if resolve and not m.resolved:
        control(sim, "/resolve", {"market": m.slug, "winner": resolve})
    return m


def bal(sim, wallet):
    return sim.call(sim.venue.balance, wallet)


def relayer(sim, method, path, **kw):
    return requests.request(method, sim.endpoints["relayer"] + path, timeout=5, **kw)


def test_auth_is_checked_but_deployed_is_public(fresh):
    assert relayer(fresh, "GET", "/deployed", params={"address": OTHER_ADDR, "type": "PROXY"}
                   ).json() == {"deployed": False}
    for path in ("/relay-payload?type=PROXY&address=" + HARDHAT_ADDR, "/v1/account/transactions/x"):
        assert relayer(fresh, "GET", path).status_code == 401
        wrong = {**AUTH, "RELAYER_API_KEY_ADDRESS": OTHER_ADDR}
        assert relayer(fresh, "GET", path, headers=wrong).status_code == 401
    assert relayer(fresh, "POST", "/submit", json={}).status_code == 401
    ok = relayer(fresh, "GET", "/relay-payload", headers=AUTH,
                 params={"address": HARDHAT_ADDR, "type": "PROXY"}).json()
    assert ok["nonce"].isdigit() and ok["address"].startswith("0x")
    assert relayer(fresh, "GET", "/v1/account/transactions/nope", headers=AUTH).status_code == 404


def test_malformed_submits_are_400(fresh):
    body = {"type": "PROXY", "from": HARDHAT_ADDR, "to": "0x" + "11" * 20, "data": "0x"}
    r = relayer(fresh, "POST", "/submit", headers=AUTH, json=body)
    assert r.status_code == 400 and "proxy factory" in r.json()["error"]
    for bad in ("nope", "[]", '{"type": "WHAT", "from": "%s"}' % HARDHAT_ADDR,
                '{"type": "WALLET", "from": "0x12"}', '{"type": "SAFE"}'):
        r = relayer(fresh, "POST", "/submit", headers=AUTH, data=bad)
        assert r.status_code == 400 and "error" in r.json(), bad


def _signed_proxy_body(sim, calls, nonce=None, signer_key=HARDHAT_KEY):
    from eth_account import Account
    from polymarket._internal.actions.relayer.calls import encode_proxy_call
    from polymarket._internal.actions.relayer.gasless import build_proxy_payload
    from polymarket._internal.actions.relayer.signing.proxy import (
        build_proxy_transaction_hash, sign_proxy_message)
    from polymarket._internal.environment import PRODUCTION_CONFIG as cfg

    from polycopy.sim.relayer import RELAY
    signer = Account.from_key(signer_key)
    if nonce is None:
        nonce = relayer(sim, "GET", "/relay-payload", headers=AUTH,
                        params={"address": HARDHAT_ADDR, "type": "PROXY"}).json()["nonce"]
    data = encode_proxy_call(calls)
    factory = cfg.wallet_derivation.proxy_factory
    digest = build_proxy_transaction_hash(
        from_address=signer.address, to=factory, data=data, relayer_fee="0", gas_price="0",
        gas_limit="200000", nonce=nonce, relay_hub=cfg.relay_hub, relay=RELAY)
    return build_proxy_payload(signer_address=HARDHAT_ADDR, proxy_factory=factory,
                               wallet=PROXY, data=data, nonce=nonce,
                               signature=sign_proxy_message(signer, digest), gas_limit="200000",
                               relay=RELAY, relay_hub=cfg.relay_hub, metadata="test")


def test_signature_nonce_and_allow_list(fresh):
    from polymarket._internal.actions.relayer.calls import TransactionCall
    m = setup(fresh, PROXY, up="1")
    call = ctf_redeem_positions_call(ctf=chain.ADAPTER, collateral=chain.PUSD,
                                     condition_id=m.condition_id)
    other = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
    forged = _signed_proxy_body(fresh, [call], signer_key=other)
    r = relayer(fresh, "POST", "/submit", headers=AUTH, json=forged)
    assert r.status_code == 400 and r.json()["error"] == "invalid signature"
    stale = _signed_proxy_body(fresh, [call], nonce="99")
    r = relayer(fresh, "POST", "/submit", headers=AUTH, json=stale)
    assert r.status_code == 400 and "nonce" in r.json()["error"]
    old = TransactionCall(to=chain.CFG.neg_risk_adapter, data=call.data)
    r = relayer(fresh, "POST", "/submit", headers=AUTH, json=_signed_proxy_body(fresh, [old]))
    assert r.status_code == 400 and r.json()["error"].startswith("call blocked: call[0] blocked")
    good = relayer(fresh, "POST", "/submit", headers=AUTH, json=_signed_proxy_body(fresh, [call]))
    assert good.status_code == 200 and good.json()["state"] == "STATE_NEW"
    replay = relayer(fresh, "POST", "/submit", headers=AUTH,
                     json=_signed_proxy_body(fresh, [call], nonce=str(int(
                         _signed_proxy_body(fresh, [call])["nonce"]) - 1)))
    assert replay.status_code == 400  # the same nonce twice: no second execution


def test_ctf_direct_succeeds_and_pays_nothing_wrong_adapter_too(fresh):
    m = setup(fresh, PROXY, up="4", pusd="1")
    nr = setup(fresh, PROXY, slug="nr-market", up="3", resolve="Yes")
    with client(fresh, PROXY) as c:
        for target, cid in ((chain.CFG.conditional_tokens, m.condition_id),
                            (chain.CFG.collateral_adapter, nr.condition_id)):
            call = ctf_redeem_positions_call(ctf=target, collateral=chain.PUSD, condition_id=cid)
            c.execute_transaction(calls=[call]).wait()  # confirmed ...
        assert bal(fresh, PROXY) == Decimal("1")  # ... and nothing paid
        c.redeem_positions(condition_id=nr.condition_id).wait()  # the neg-risk adapter pays
        assert bal(fresh, PROXY) == Decimal("4")
        with pytest.raises(TransactionFailedError, match="exceeds balance"):
            c.execute_transaction(calls=[ctf_merge_positions_call(
                target=chain.CFG.conditional_tokens, collateral=chain.PUSD,
                condition_id=m.condition_id, amount=1)]).wait()


def test_a_safe_wallet_with_a_builder_key(fresh):
    m = setup(fresh, SAFE, up="0", down="5", resolve="Down")
    with client(fresh, SAFE, api_key=BUILDER) as c:
        c.redeem_positions(condition_id=m.condition_id).wait()
    assert bal(fresh, SAFE) == Decimal("5")
    assert [t["type"] for t in fresh.relayer.txs.values()][-1] == "SAFE"


def test_429_and_wallet_busy_are_retried_by_the_sdk(fresh):
    m = setup(fresh, PROXY, up="2")
    with client(fresh, PROXY, poll_ms=300) as c:  # the SDK retries 10 times, 300 ms apart
        fault(fresh, kind="relayer_429", for_s=0.8)
        fault(fresh, kind="relayer_wallet_busy", for_s=1.2)
        c.redeem_positions(condition_id=m.condition_id).wait()
    assert bal(fresh, PROXY) == Decimal("2")
    assert fresh.relayer.refused["429"] >= 1 and fresh.relayer.refused["busy"] >= 1


def test_503_failed_and_pending_transactions(fresh):
    m = setup(fresh, PROXY, up="3")
    with client(fresh, PROXY, poll_ms=5) as c:
        fault(fresh, kind="relayer_503", for_s=30)
        with pytest.raises(RequestRejectedError) as err:
            c.redeem_positions(condition_id=m.condition_id)
        assert err.value.status == 503
        requests.post(fresh.endpoints["control"] + "/reset", timeout=5)  # closes the window
        fault(fresh, kind="relayer_tx_fails", for_s=5)
        with pytest.raises(TransactionFailedError, match="execution reverted"):
            c.redeem_positions(condition_id=m.condition_id).wait()
        assert bal(fresh, PROXY) == 0
        requests.post(fresh.endpoints["control"] + "/reset", timeout=5)
        fault(fresh, kind="relayer_tx_pending", for_s=5)
        with pytest.raises(TimeoutError):
            c.redeem_positions(condition_id=m.condition_id).wait()  # 100 polls x 5 ms
    assert bal(fresh, PROXY) == Decimal("3")  # it did execute: judge by the balance
    assert list(fresh.relayer.txs.values())[-1]["state"] == "STATE_MINED"


def test_relayer_and_chain_faults_from_the_scenario_timeline():
    faults = [{"at_s": 0, "kind": "relayer_tx_fails", "for_s": 60},
              {"at_s": 0, "kind": "chain_tx_pending", "for_s": 60}]
    with Polysim(small_scenario(faults=faults)) as sim:
        def shown():
            got = requests.get(sim.endpoints["control"] + "/faults", timeout=5).json()["chain"]
            return got if got["tx_fails_until"] > 0 and got["eoa_pending_until"] > 0 else None
        deadline = time.monotonic() + 5
        while not shown() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert shown() and shown()["relayer_429_until"] == 0
