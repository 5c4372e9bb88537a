"""Every signed order in ../shared/polymarket verifies; tampered copies and V1 do not."""
import json
from decimal import Decimal

import pytest

from polycopy.sim.venue import Venue
from tests.sim.venue.helpers import LoopServer, load, market

VECTORS = load("v2/order_vectors_all.json")
META = VECTORS["_meta"]["inputs"]
SAMPLE = load("clob_post_order_request.json")


def _cases():
    for name, vec in VECTORS.items():
        if name == "_meta":
            continue
        yield pytest.param(name, vec["post_order"]["raw_body_exactly_as_sent"],
                           vec["expected_orderID"], META["token_id"],
                           (META["test_api_key"], META["test_api_secret_base64url"],
                            META["test_api_passphrase"]), id=name)
    http = SAMPLE["http"]
    yield pytest.param("sample_fak", http["raw_body_exactly_as_sent"],
                       http["expected_orderID_eip712_hash"], SAMPLE["body"]["order"]["tokenId"],
                       (SAMPLE["body"]["owner"], http["hmac_secret_used_for_this_example"],
                        "<passphrase>"), id="clob_post_order_request")


def _serve(token: str, raw: str, creds: tuple[str, str, str], neg_risk: bool) -> LoopServer:
    venue = Venue(clock=lambda: 1795000001.0)  # the vectors' GTD expiry is relative to this
    venue.add_market(market((token, "1" + token[1:]), neg_risk=neg_risk))
    venue.set_book(token, bids=[], asks=[(Decimal("0.53"), Decimal("100"))])
    order = json.loads(raw)["order"]
    venue.fund(order["maker"], Decimal("100"), {token: Decimal("10")})
    venue.keys.register(META["address"], *creds)
    return LoopServer(venue)


@pytest.mark.parametrize("name,raw,order_id,token,creds", list(_cases()))
def test_vector_is_accepted_and_tampering_is_rejected(name, raw, order_id, token, creds):
    server = _serve(token, raw, creds, neg_risk="negrisk" in name)
    api = server.venue.keys.by_key[creds[0]]
    try:
        bad_sig = _flip_signature_byte(raw)
        resp = server.request("POST", "/order", api, raw=bad_sig)
        assert (resp.status_code, resp.json()) == (400, {"error": "invalid signature"})

        bad_amount = _bump_maker_amount(raw)
        resp = server.request("POST", "/order", api, raw=bad_amount)
        assert (resp.status_code, resp.json()) == (400, {"error": "invalid signature"})

        resp = server.request("POST", "/order", api, raw=raw)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["success"] is True and body["errorMsg"] == ""
        assert body["orderID"] == order_id
        assert body["status"] == ("matched" if "FAK" in raw else "live")
        assert server.venue.orders[order_id].signed.maker == json.loads(raw)["order"]["maker"]
    finally:
        server.close()


def _flip_signature_byte(raw: str) -> str:
    body = json.loads(raw)
    sig = body["order"]["signature"]
    i = 2 + 2 * 10  # byte 10 of r
    body["order"]["signature"] = sig[:i] + f"{int(sig[i:i + 2], 16) ^ 0x01:02x}" + sig[i + 2:]
    return json.dumps(body, separators=(",", ":"))


def _bump_maker_amount(raw: str) -> str:
    body = json.loads(raw)
    body["order"]["makerAmount"] = str(int(body["order"]["makerAmount"]) + 10000)
    return json.dumps(body, separators=(",", ":"))


def test_v1_body_is_rejected_with_order_version_mismatch():
    v1 = load("clob_post_order_request_v1_legacy.json")["body"]
    token = v1["order"]["tokenId"]
    raw = json.dumps(v1, separators=(",", ":"))
    creds = (v1["owner"], SAMPLE["http"]["hmac_secret_used_for_this_example"], "<passphrase>")
    server = _serve(token, raw, creds, neg_risk=False)
    try:
        resp = server.request("POST", "/order", server.venue.keys.by_key[v1["owner"]], raw=raw)
        assert (resp.status_code, resp.json()) == (400, {"error": "order_version_mismatch"})
        assert server.venue.orders == {}
    finally:
        server.close()
