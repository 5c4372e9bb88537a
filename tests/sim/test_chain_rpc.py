"""The Polygon JSON-RPC an EOA redeems with: reads (single and batch), raw legacy transactions
(sender, chain id, nonce), receipts, and the revert/pending knobs."""
import time
from decimal import Decimal

import pytest
import requests
from eth_abi import decode, encode
from eth_account import Account
from polymarket import SecureClient
from polymarket.calls import ctf_redeem_positions_call
from polymarket.errors import TransactionFailedError

from polycopy.sim import chain
from polycopy.sim.server import Polysim
from polycopy.sim.venue.sdk_env import polysim_environment
from tests.sim.simkit import control, fault, small_scenario
from tests.sim.venue.helpers import HARDHAT_ADDR, HARDHAT_KEY

BATCH = "4e1273f4"


@pytest.fixture
def sim():
    with Polysim(small_scenario(accounts=[], relayer={"step_ms": 20})) as running:
        yield running


def rpc(sim, method, *params, rid=1):
    body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": list(params)}
    return requests.post(sim.endpoints["polygon_rpc"], json=body, timeout=5).json()


def fund(sim, up="3", down="2", pusd="7"):
    m = sim.call(sim.catalog.resolve, "btc", time.time()).market
    control(sim, "/accounts", {"address": HARDHAT_ADDR, "pusd": pusd,
                               "positions": {m.tokens[0]: up, m.tokens[1]: down}})
    return m


def balance_of_batch(tokens) -> str:
    return "0x" + bytes.fromhex(BATCH).hex() + encode(
        ["address[]", "uint256[]"], [[HARDHAT_ADDR] * len(tokens), [int(t) for t in tokens]]).hex()


def test_reads_single_and_batched(sim):
    m = fund(sim)
    rain = sim.catalog.by_slug["will-it-rain"].market
    control(sim, "/accounts", {"address": HARDHAT_ADDR, "positions": {rain.tokens[1]: "4.5"}})
    assert rpc(sim, "eth_chainId")["result"] == "0x89"
    assert int(rpc(sim, "eth_gasPrice")["result"], 16) > 0
    block = rpc(sim, "eth_getBlockByNumber", "latest", False)["result"]
    assert abs(int(block["timestamp"], 16) - time.time()) < 5
    calls = [(chain.CFG.conditional_tokens, balance_of_batch(m.tokens)),
             (chain.CFG.neg_risk_adapter, balance_of_batch(m.tokens)),
             (chain.CFG.position_manager, balance_of_batch(rain.tokens)),
             (chain.CFG.collateral_token, "0x70a08231" + encode(["address"], [HARDHAT_ADDR]).hex())]
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_call",
              "params": [{"to": to, "data": data}, "latest"]} for i, (to, data) in enumerate(calls)]
    answers = {a["id"]: bytes.fromhex(a["result"][2:])
               for a in requests.post(sim.endpoints["polygon_rpc"], json=batch, timeout=5).json()}
    assert decode(["uint256[]"], answers[0])[0] == (3_000_000, 2_000_000)
    assert decode(["uint256[]"], answers[1])[0] == (3_000_000, 2_000_000)  # passes through to CTF
    assert decode(["uint256[]"], answers[2])[0] == (0, 4_500_000)  # v2 positions: PositionManager
    assert decode(["uint256"], answers[3])[0] == 7_000_000
    wrong = rpc(sim, "eth_call", {"to": chain.CFG.position_manager, "data": balance_of_batch(m.tokens)})
    assert decode(["uint256[]"], bytes.fromhex(wrong["result"][2:]))[0] == (0, 0)  # v1 ids
    assert rpc(sim, "eth_call", {"to": "0x" + "12" * 20, "data": "0x12345678"})["error"]["code"] == 3
    assert rpc(sim, "eth_nope")["error"]["code"] == -32601
    assert "error" in rpc(sim, "eth_getTransactionCount")


def _raw(sim, m, nonce, chain_id=137):
    call = ctf_redeem_positions_call(ctf=chain.CFG.collateral_adapter, collateral=chain.PUSD,
                                     condition_id=m.condition_id)
    tx = {"to": chain.CFG.collateral_adapter, "value": 0, "data": call.data, "gas": 200_000,
          "gasPrice": 30 * 10**9, "nonce": nonce, "chainId": chain_id}
    return "0x" + Account.from_key(HARDHAT_KEY).sign_transaction(tx).raw_transaction.hex()


def _raw_data(m):
    return ctf_redeem_positions_call(ctf=chain.CFG.collateral_adapter, collateral=chain.PUSD,
                                     condition_id=m.condition_id).data


def _receipt(sim, tx_hash):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        got = rpc(sim, "eth_getTransactionReceipt", tx_hash)["result"]
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError("no receipt")


def test_raw_transactions_nonce_chain_id_revert_and_pending(sim):
    m = fund(sim, up="2", down="0", pusd="0")
    early = rpc(sim, "eth_sendRawTransaction", _raw(sim, m, 0))["result"]
    assert _receipt(sim, early)["status"] == "0x0"  # not resolved yet: the redeem reverts
    assert _receipt(sim, early)["from"] == HARDHAT_ADDR.lower()
    estimate = rpc(sim, "eth_estimateGas", {"from": HARDHAT_ADDR, "to": chain.CFG.collateral_adapter,
                                            "data": _raw_data(m)})
    assert "result for condition not received yet" in estimate["error"]["message"]
    assert "nonce too low" in rpc(sim, "eth_sendRawTransaction", _raw(sim, m, 0))["error"]["message"]
    assert "chain id" in rpc(sim, "eth_sendRawTransaction", _raw(sim, m, 1, 80002))["error"]["message"]
    assert rpc(sim, "eth_getTransactionCount", HARDHAT_ADDR, "pending")["result"] == "0x1"
    control(sim, "/resolve", {"market": m.slug, "winner": "Up"})
    fault(sim, kind="chain_tx_reverts", for_s=30)
    reverted = rpc(sim, "eth_sendRawTransaction", _raw(sim, m, 1))["result"]
    assert _receipt(sim, reverted)["status"] == "0x0"
    assert sim.call(sim.venue.balance, HARDHAT_ADDR) == 0
    requests.post(sim.endpoints["control"] + "/reset", timeout=5)
    fault(sim, kind="chain_tx_pending", for_s=30)
    pending = rpc(sim, "eth_sendRawTransaction", _raw(sim, m, 2))["result"]
    assert rpc(sim, "eth_getTransactionByHash", pending)["result"]["blockNumber"] is None
    assert rpc(sim, "eth_getTransactionCount", HARDHAT_ADDR, "pending")["result"] == "0x3"
    requests.post(sim.endpoints["control"] + "/reset", timeout=5)
    mined = rpc(sim, "eth_sendRawTransaction", _raw(sim, m, 3))["result"]
    assert _receipt(sim, mined)["status"] == "0x1"
    assert sim.call(sim.venue.balance, HARDHAT_ADDR) == Decimal("2")
    assert rpc(sim, "eth_getTransactionReceipt", pending)["result"] is None  # never mined


def test_the_sdk_sees_a_reverted_eoa_redeem(sim):
    m = fund(sim, up="1")
    control(sim, "/resolve", {"market": m.slug, "winner": "Up"})
    fault(sim, kind="chain_tx_reverts", for_s=30)
    with SecureClient.create(private_key=HARDHAT_KEY, wallet=HARDHAT_ADDR,
                             environment=polysim_environment(sim.endpoints, poll_ms=20)) as c:
        with pytest.raises(TransactionFailedError, match="reverted"):
            c.redeem_positions(condition_id=m.condition_id).wait()
    assert sim.call(sim.venue.positions, HARDHAT_ADDR)[m.tokens[0]] == 1
