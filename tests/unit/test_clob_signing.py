"""Our SDK-based signing reproduces the offline V2 vectors byte for byte (shared/polymarket/v2)."""
import json
from decimal import Decimal as D

import pytest

from polycopy.errors import ConfigError
from polycopy.venue import clob
from polycopy.venue.orders import OrderPlan
from tests.conftest import POLYMARKET

V2 = (POLYMARKET / "v2")
VECTORS = json.loads((V2 / "order_vectors_all.json").read_text())
AUTH = json.loads((V2 / "auth_header_vectors.json").read_text())
CROSS = json.loads((V2 / "unified_sdk_crosscheck.json").read_text())
INPUTS = VECTORS["_meta"]["inputs"]
KEY = INPUTS["private_key"]
CREDS = clob.ApiCreds(INPUTS["test_api_key"], INPUTS["test_api_secret_base64url"], INPUTS["test_api_passphrase"])
TS = INPUTS["l1_l2_POLY_TIMESTAMP"]

SIG_TYPES = {"buy_limit_gtc_deposit_wallet_type3": 3, "buy_limit_gtc_proxy_type1": 1, "buy_limit_gtc_safe_type2": 2}


def _plan(vector) -> OrderPlan:
    body = vector["post_order"]["body"]["order"]
    return OrderPlan(token_id=body["tokenId"], side=body["side"], order_type=vector["post_order"]["body"]["orderType"],
                     price=D("0.52"), size=D(0), notional=D(0), maker_amount=int(body["makerAmount"]),
                     taker_amount=int(body["takerAmount"]), tick_size=D("0.01"))


@pytest.mark.parametrize("name", [k for k in VECTORS if k != "_meta"])
def test_signature_and_order_id_match_vector(name):
    v = VECTORS[name]
    sig_type = SIG_TYPES.get(name, 0)
    signer = clob.ClobSigner(KEY, signature_type=sig_type)
    neg_risk = v["eip712"]["typed_data"]["domain"]["verifyingContract"].lower().startswith("0xe2222")
    signed = signer.sign(_plan(v), neg_risk=neg_risk, salt=int(INPUTS["salt"]), timestamp_ms=INPUTS["fixed_order_timestamp_ms"])
    assert signed.order_id == v["expected_orderID"]
    ours = json.loads(signed.order_json)
    want = dict(v["post_order"]["body"]["order"])
    want["expiration"] = "0"  # the GTD vector carries an expiration; it is not signed
    assert ours == want
    assert signer.maker == v["eip712"]["typed_data"]["message"]["maker"]


def test_post_body_is_the_unified_sdk_bytes_and_hmac():
    v = VECTORS["buy_limit_gtc_eoa"]
    signed = clob.ClobSigner(KEY).sign(_plan(v), salt=int(INPUTS["salt"]), timestamp_ms=INPUTS["fixed_order_timestamp_ms"])
    body = clob.post_body(signed, CREDS.key)
    variant = CROSS["unified_sdk_body_variant"]
    assert body == variant["raw_body_exactly_as_sent"]
    headers = clob.l2_headers(CREDS, INPUTS["address"], "POST", "/order", body, timestamp=TS)
    assert headers["POLY_SIGNATURE"] == variant["POLY_SIGNATURE_for_same_timestamp_and_secret"]


@pytest.mark.parametrize("name", ["l2_get_order", "l2_get_open_orders", "l2_cancel_order", "l2_heartbeat_first"])
def test_l2_header_vectors(name):
    v = AUTH[name]
    assert clob.l2_headers(CREDS, INPUTS["address"], v["method"], v["path"], v["raw_body"], timestamp=TS) == v["headers"]


def test_l1_header_vector():
    assert clob.ClobSigner(KEY).l1_headers(timestamp=TS) == AUTH["l1_create_or_derive_api_key"]["headers"]


def test_domain_three_for_v2_markets_and_neg_risk_contract():
    v = VECTORS["buy_limit_gtc_eoa"]
    signer = clob.ClobSigner(KEY)
    base = signer.sign(_plan(v), salt=1, timestamp_ms=2)
    v3 = signer.sign(_plan(v), version="v2", salt=1, timestamp_ms=2)
    nr = signer.sign(_plan(v), neg_risk=True, salt=1, timestamp_ms=2)
    assert (base.domain_version, v3.domain_version, nr.domain_version) == ("2", "3", "2")
    assert len({base.order_id, v3.order_id, nr.order_id}) == 3
    assert json.loads(base.order_json)["signature"] != json.loads(v3.order_json)["signature"]


def test_environment_for_other_hosts_still_builds():
    # pins the SDK's private environment API we rely on for polysim
    env = clob.environment("polysim", clob_url="http://127.0.0.1:1", clob_ws_user_url="ws://127.0.0.1:1/ws/user",
                           clob_ws_market_url="ws://127.0.0.1:1/ws/market", chain_id=137)
    assert env.name == "polysim"
    assert env._config.clob_url == "http://127.0.0.1:1"
    assert env._config.standard_exchange == "0xE111180000d2663C0091e4f400237545B87B996B"


def test_bad_wallet_settings_are_named():
    with pytest.raises(ConfigError, match="PRIVATE_KEY"):
        clob.ClobSigner("0x1234")
    with pytest.raises(ConfigError, match="FUNDER"):
        clob.ClobSigner(KEY, signature_type=2, funder="0x" + "11" * 20)
    assert "ac0974" not in repr(clob.ClobSigner(KEY)) and "***" in repr(CREDS)
