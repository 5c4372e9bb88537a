"""Geoblock tiers: what a live start does for a host's place."""
from polycopy.config.geoblock import CLOSE_ONLY, OK, REFUSE, WARN, as_of, classify


def test_tier_one_refuses_tier_two_is_close_only_tier_three_warns():
    assert classify("IR", "", True).action == REFUSE
    assert classify("UA", "43", True) == classify("UA", "43", False)  # a region of a country, listed alone
    assert classify("UA", "43", True).action == REFUSE and classify("UA", "43", True).place == "UA-43"
    assert classify("GB", "ENG", True).action == CLOSE_ONLY
    assert classify("NL", "NH", True).action == WARN and classify("NL", "NH", True).tier == 3


def test_an_unlisted_place_warns_only_when_the_venue_says_blocked():
    assert classify("BR", "SP", True).action == WARN and classify("BR", "SP", True).tier == 0
    assert classify("BR", "SP", False).action == OK


def test_overrides_win_and_a_region_beats_its_country():
    assert classify("NL", "NH", True, {"NL": 2}).action == CLOSE_ONLY
    assert classify("CA", "ON", True).action == CLOSE_ONLY and classify("CA", "NS", False).action == OK
    assert classify("US", "PR", True, {"us-pr": 3}).action == WARN
    assert as_of() == "2026-12-07"
