"""polysim's own parsers of outside input never answer 500 or move money: relayer submits,
JSON-RPC requests and Data API v2 / keyset queries (hypothesis)."""
import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polycopy.sim.server import Polysim
from tests.sim.simkit import OURS, small_scenario
from tests.sim.venue.helpers import HARDHAT_ADDR

KEY = "polysim-fuzz-relayer-key"
AUTH = {"RELAYER_API_KEY": KEY, "RELAYER_API_KEY_ADDRESS": HARDHAT_ADDR}
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=30),
                    st.sampled_from(["0x", "0x" + "ab" * 20, "0x" + "00" * 32, "1e999999999",
                                     "PROXY", "SAFE", "WALLET", "WALLET-CREATE", HARDHAT_ADDR]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)
fields = ("type", "from", "to", "proxyWallet", "data", "nonce", "signature", "metadata",
          "signatureParams", "depositWalletParams", "value")
submits = st.dictionaries(st.sampled_from(fields), values, max_size=len(fields))


@pytest.fixture(scope="module")
def sim():
    scenario = small_scenario(relayer={"api_keys": [{"key": KEY, "address": HARDHAT_ADDR}]})
    with Polysim(scenario) as running:
        yield running


@FUZZ
@given(body=st.one_of(submits, values))
def test_relayer_submit_answers_400_for_anything_it_cannot_accept(sim, body):
    before = sim.call(lambda: (dict(sim.venue.balances), len(sim.relayer.txs)))
    r = requests.post(sim.endpoints["relayer"] + "/submit", data=json.dumps(body), headers=AUTH,
                      timeout=5)
    after = sim.call(lambda: (dict(sim.venue.balances), len(sim.relayer.txs)))
    assert after[0] == before[0]  # nothing that moves money is ever accepted unsigned
    if isinstance(body, dict) and body.get("type") == "WALLET-CREATE" and r.status_code == 200:
        return  # a well-formed deployment request (needs no signature)
    assert r.status_code == 400 and "error" in r.json(), (body, r.text)
    assert after[1] == before[1]


methods = st.sampled_from(["eth_call", "eth_sendRawTransaction", "eth_estimateGas",
                           "eth_getTransactionCount", "eth_getBlockByNumber", "eth_feeHistory",
                           "eth_getTransactionReceipt", "eth_chainId", "eth_nope"])


@FUZZ
@given(method=methods, params=st.lists(values, max_size=3), batch=st.booleans())
def test_json_rpc_answers_a_result_or_an_error_object(sim, method, params, batch):
    one = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    r = requests.post(sim.endpoints["polygon_rpc"], json=[one, one] if batch else one, timeout=5)
    assert r.status_code == 200
    answers = r.json() if batch else [r.json()]
    assert len(answers) == (2 if batch else 1)
    for answer in answers:
        assert answer["id"] == 7 and (("result" in answer) != ("error" in answer)), answer


queries = st.dictionaries(st.sampled_from(
    ["user", "condition", "conditionId", "limit", "cursor", "side", "taker_only", "status",
     "filter_type", "filter_amount", "start", "end", "sort_direction", "type", "event_id",
     "question_id", "sort_by", "title"]),
    st.one_of(st.text(max_size=40), st.sampled_from([OURS, "0x" + "ab" * 32, "-1", "1e9999",
                                                     "REDEEMABLE_LOST", "ASC", "CASH"])),
    max_size=5)


@FUZZ
@given(route=st.sampled_from(["trades", "activity", "positions", "resolutions", "value"]),
       query=queries)
def test_data_api_v2_answers_200_or_a_v2_error(sim, route, query):
    r = requests.get(sim.endpoints["data_api"] + "/v2/" + route, params=query, timeout=5)
    assert r.status_code in (200, 400), (route, query, r.text)
    body = r.json()
    assert ("data" in body) if r.status_code == 200 else (body["code"] == "invalid_request")


@FUZZ
@given(query=st.dictionaries(st.sampled_from(
    ["limit", "after_cursor", "condition_ids", "clob_token_ids", "closed", "version", "slug",
     "resolution_status", "id"]), st.text(max_size=30), max_size=4))
def test_keyset_answers_200_or_400(sim, query):
    r = requests.get(sim.endpoints["gamma"] + "/markets/keyset", params=query, timeout=5)
    assert r.status_code in (200, 400), (query, r.text)
    assert ("markets" in r.json()) if r.status_code == 200 else ("error" in r.json())
