import json
from decimal import Decimal as D

import pytest

from polycopy.wire.clob import parse_book, parse_order, parse_post, trade_status
from tests.conftest import POLYMARKET

SHARED = POLYMARKET
VARIANTS = json.loads((SHARED / "clob_post_order_response_variants.json").read_text())

EXPECTED = {
    "accepted_resting_GTC__constructed": ("accepted", ""),
    "docs_example_live__docs_api_reference_post_a_new_order": ("accepted", ""),
    "matched_FOK_buy__observed_third_party": ("accepted", ""),
    "matched_sell__observed_third_party": ("accepted", ""),
    "delayed__constructed": ("accepted", ""),
    "rejected_balance__docs_error_codes": ("rejected", "balance"),
    "rejected_FOK_not_filled__docs_error_codes": ("rejected", "fok_not_filled"),
    "rejected_FAK_no_match__docs_error_codes": ("rejected", "fak_no_match"),
    "rejected_tick__docs_error_codes_template": ("rejected", "off_tick"),
    "rejected_min_size__docs_error_codes_template": ("rejected", "below_min_size"),
    "rejected_marketable_min_notional__observed_third_party": ("rejected", "below_min_notional"),
    "rejected_market_amount_precision__observed_third_party": ("rejected", "amount_precision"),
    "rejected_post_only_cross__docs_error_codes": ("rejected", "crosses_book"),
    "rejected_v1_order_on_v2__observed_third_party": ("rejected", "version_mismatch"),
    "rejected_bad_signature__observed_issue": ("rejected", "invalid_signature"),
    "rejected_auth__docs_error_codes": ("rejected", "auth"),
    "post_only_mode_after_restart__docs_matching_engine": ("retry_later", "post_only_mode"),
    "cancel_only_mode__docs_matching_engine": ("retry_later", "cancel_only"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_documented_variants(name):
    v = VARIANTS[name]
    r = parse_post(v["http_status"], v.get("headers"), v["body"])
    assert (r.kind, r.reason) == EXPECTED[name]


def test_every_variant_parses_without_error():
    for name, v in VARIANTS.items():
        if isinstance(v, dict) and "http_status" in v and isinstance(v.get("body"), dict):
            assert parse_post(v["http_status"], v.get("headers"), v["body"]).kind in (
                "accepted", "rejected", "retry_later", "unknown", "duplicate"), name


def test_matched_amounts_in_human_units_and_fixed_point():
    body = json.loads((SHARED / "clob_post_order_response.json").read_text())
    r = parse_post(200, {}, body, cap=D("10"))
    assert r.status == "matched" and r.making == D("5") and r.taking == D("9.615384")
    assert r.trade_ids == ("9d8c7b6a-1f2e-4d3c-8b5a-0f1e2d3c4b5a",)
    docs = VARIANTS["docs_example_live__docs_api_reference_post_a_new_order"]["body"]
    r = parse_post(200, {}, docs, cap=D("200"))
    assert (r.making, r.taking) == (D("100"), D("200"))


def test_retry_after_and_unknowns():
    assert parse_post(429, {"Retry-After": "3"}, {"error": "Too Many Requests"}).retry_after_s == 3.0
    r = parse_post(425, {}, {"error": "engine restarting"})
    assert (r.kind, r.reason, r.retry_after_s) == ("retry_later", "engine_restart", 5.0)
    assert parse_post(503, {}, {"error": "Trading is currently disabled. Check polymarket.com"}).reason == "trading_disabled"
    assert parse_post(None).kind == "unknown"
    assert parse_post(500, {}, {"error": "order timed out"}).kind == "unknown"
    assert parse_post(200, {}, {"success": True, "status": "weird"}).kind == "unknown"
    assert parse_post(400, {}, {"error": "order 0xab is invalid. Duplicated."}).kind == "duplicate"
    assert parse_post(400, {}, "not json").reason == "http_400"
    assert parse_post(200, {}, {"success": False, "errorMsg": "not enough balance / allowance"}).reason == "balance"


def test_parse_order_and_trade_status():
    o = parse_order({"id": "0x1", "status": "ORDER_STATUS_MATCHED", "original_size": "10", "size_matched": "10000000",
                     "price": "0.52", "associate_trades": ["t1"]})
    assert (o.status, o.size_matched, o.trade_ids) == ("MATCHED", D("10"), ("t1",))
    assert parse_order(None) is None and parse_order({}) is None
    assert trade_status("TRADE_STATUS_CONFIRMED") == "CONFIRMED" and trade_status("mined") == "MINED"


def test_book_sorted_best_first():
    book = parse_book(json.loads((SHARED / "clob_book.json").read_text()))
    assert book.asks[0].price == min(lv.price for lv in book.asks)
    assert book.bids[0].price == max(lv.price for lv in book.bids)
    assert book.tick_size == D("0.01") and book.min_order_size == D("5") and book.neg_risk is False


def test_account_errors_map_to_hints():
    from polycopy.ops.credentials import hint

    r = parse_post(400, {}, {"error": "maker address not allowed, please use the deposit wallet flow"})
    assert r.reason == "maker_not_allowed" and "POLYCOPY_SIGNATURE_TYPE=3" in hint(r.reason)
    r = parse_post(400, {}, {"error": "the order signer address has to be the address of the API KEY"})
    assert r.reason == "signer_not_api_key" and "polycopy.ops.credentials" in hint(r.reason)
    assert hint("balance") == ""
