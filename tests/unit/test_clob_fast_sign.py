"""The fast signer (eip712 digest + coincurve) gives byte-identical orders to the SDK + eth_account path."""
import json
from dataclasses import replace
from decimal import Decimal as D

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polymarket._internal.actions.orders import typed_data as sdk_typed_data
from polymarket._internal.protocol import is_v2_position_id

from polycopy.venue import clob, eip712
from polycopy.venue.orders import OrderPlan
from tests.conftest import POLYMARKET

VECTORS = json.loads((POLYMARKET / "v2" / "order_vectors_all.json").read_text())
KEY = VECTORS["_meta"]["inputs"]["private_key"]
CURVE_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
UINT256 = st.integers(0, 2**256 - 1)
V2_MASK = ((1 << 64) - 1) << 40  # the SDK's reserved bits: zero in a V2 position id


def plan(token_id: int, side: str, maker_amount: int, taker_amount: int, order_type: str = "FAK") -> OrderPlan:
    return OrderPlan(token_id=str(token_id), side=side, order_type=order_type, price=D("0.5"), size=D(1),
                     notional=D("0.5"), maker_amount=maker_amount, taker_amount=taker_amount, tick_size=D("0.01"))


token_ids = st.one_of(UINT256, UINT256.map(lambda t: t & ~V2_MASK))
orders = st.builds(plan, token_ids, st.sampled_from(["BUY", "SELL"]), UINT256, UINT256,
                   st.sampled_from(["FAK", "FOK"]))


@st.composite
def signers(draw):
    key = f"0x{draw(st.integers(1, CURVE_N - 1)):064x}"
    sig_type = draw(st.sampled_from([0, 1, 2, 3]))
    # type 3 with a foreign funder is the SDK's session-key path (wrapped signature)
    funder = "0x" + draw(st.binary(min_size=20, max_size=20)).hex() if sig_type == 3 and draw(st.booleans()) else None
    return clob.ClobSigner(key, signature_type=sig_type, funder=funder, chain_id=draw(st.sampled_from([137, 80002])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signer=signers(), order=orders, version=st.sampled_from(["v1", "v2"]), neg_risk=st.booleans(),
       salt=st.integers(0, 2**53 - 1), ts=st.integers(0, 2**63))
def test_fast_sign_equals_sdk_path(signer, order, version, neg_risk, salt, ts):
    kw = dict(version=version, neg_risk=neg_risk, salt=salt, timestamp_ms=ts)
    assert signer.sign(order, **kw) == signer._sign_reference(order, **kw)


@settings(max_examples=50, deadline=None)
@given(order=orders, neg_risk=st.booleans(), salt=st.integers(0, 2**53 - 1))
def test_signature_recovers_to_the_key_address(order, neg_risk, salt):
    signer = clob.ClobSigner(KEY)
    signed = signer.sign(order, version="v2" if is_v2_position_id(order.token_id) else "v1", neg_risk=neg_risk,
                         salt=salt, timestamp_ms=1795000000123)
    sig = bytes.fromhex(json.loads(signed.order_json)["signature"][2:])
    assert len(sig) == 65 and sig[64] in (27, 28)
    assert Account._recover_hash(bytes.fromhex(signed.order_id[2:]), signature=sig) == signer.address


@pytest.mark.parametrize("name", [k for k in VECTORS if k != "_meta"])
def test_vector_digest_from_eip712_module(name):
    v = VECTORS[name]
    t = v["eip712"]["typed_data"]
    m = t["message"]
    sep = eip712.domain_separator(t["domain"]["version"], t["domain"]["chainId"], t["domain"]["verifyingContract"])
    struct = eip712.order_struct_hash(
        salt=int(m["salt"]), maker=eip712.address_word(m["maker"]), signer=eip712.address_word(m["signer"]),
        token_id=int(m["tokenId"]), maker_amount=int(m["makerAmount"]), taker_amount=int(m["takerAmount"]),
        side=int(m["side"]), signature_type=int(m["signatureType"]), timestamp=int(m["timestamp"]),
        metadata=eip712.bytes32_word(m["metadata"]), builder=eip712.bytes32_word(m["builder"]))
    assert "0x" + eip712.digest(sep, struct).hex() == v["expected_orderID"]


def test_type_strings_are_the_sdks():
    assert eip712.ORDER_TYPE == sdk_typed_data._ORDER_TYPE_STRING
    assert eip712.DOMAIN_TYPE == sdk_typed_data._DOMAIN_TYPE_STRING
    assert [f["name"] for f in sdk_typed_data._TYPED_DATA_SIGN_FIELDS] == [
        "contents", "name", "version", "chainId", "verifyingContract", "salt"]


@pytest.mark.parametrize("field, value", [("maker_amount", -1), ("taker_amount", 2**256), ("token_id", str(2**256)),
                                          ("side", "HOLD")])
def test_bad_order_fields_are_named(field, value):
    bad = replace(plan(1, "BUY", 5, 10), **{field: value})
    with pytest.raises(ValueError, match="side|makerAmount|takerAmount|tokenId"):
        clob.ClobSigner(KEY).sign(bad, salt=1, timestamp_ms=2)


def test_key_never_in_repr():
    signer = clob.ClobSigner(KEY)
    shown = repr(signer) + str(signer) + repr(signer._key) + str(signer._key)
    assert KEY[2:] not in shown.lower() and KEY[2:18] not in shown.lower()
