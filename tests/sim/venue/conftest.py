from decimal import Decimal

import pytest

from polycopy.sim.venue import Venue
from tests.sim.venue.helpers import HARDHAT_ADDR, T1, LoopServer, market


@pytest.fixture
def venue():
    v = Venue()
    v.settle_delays_s = (0.05, 0.05)
    v.add_market(market())
    v.set_book(T1, bids=[(Decimal("0.50"), Decimal("100")), (Decimal("0.49"), Decimal("50"))],
               asks=[(Decimal("0.52"), Decimal("20")), (Decimal("0.53"), Decimal("100"))])
    v.fund(HARDHAT_ADDR, Decimal("1000"), {T1: Decimal("100")})
    return v


@pytest.fixture
def server(venue):
    s = LoopServer(venue)
    yield s
    s.close()


@pytest.fixture
def api(venue):
    """An API key for the Hardhat #0 EOA."""
    return venue.keys.derive(HARDHAT_ADDR, 0)
