"""The official SDK (polymarket-client 0.14.0), unchanged, against the venue on loopback."""
from decimal import Decimal

import pytest
from polymarket import SecureClient
from polymarket.errors import RequestRejectedError
from polymarket.environments import Environment

from polycopy.sim.venue import Venue
from polycopy.sim.venue.sdk_env import make_environment
from tests.sim.venue.helpers import HARDHAT_ADDR, HARDHAT_KEY, T1, LoopServer, market


def test_make_environment_points_every_clob_url_at_loopback():
    env = make_environment("http://127.0.0.1:8080/", "ws://127.0.0.1:8081")
    cfg = env._config
    assert isinstance(env, Environment)
    assert cfg.clob_url == "http://127.0.0.1:8080"
    assert cfg.clob_market_ws_url == "ws://127.0.0.1:8081/ws/market"
    assert cfg.clob_user_ws_url == "ws://127.0.0.1:8081/ws/user"
    assert cfg.chain_id == 137
    assert cfg.standard_exchange == "0xE111180000d2663C0091e4f400237545B87B996B"
    for url in (cfg.relayer_url, cfg.rpc_url, cfg.gamma_url, cfg.data_url):
        assert url.startswith("http://127.0.0.1")


def test_sdk_trades_against_the_venue(server, venue):
    env = make_environment(server.url, server.ws_url)
    with SecureClient.create(private_key=HARDHAT_KEY, wallet=HARDHAT_ADDR,
                             environment=env) as client:
        creds = client.credentials
        assert venue.keys.by_key[creds.key].address == HARDHAT_ADDR

        book = client.get_order_book(asset_id=T1)
        assert book.asks[-1].price == Decimal("0.52")  # best ask is last
        assert book.bids[-1].price == Decimal("0.5")

        buy = client.place_market_order(asset_id=T1, side="BUY", amount="5",
                                        max_price="0.53", order_type="FAK")
        assert buy.ok, buy
        assert buy.status == "matched"
        assert buy.making_amount == Decimal("5")
        assert buy.taking_amount > Decimal("9.43")  # price improvement at 0.52
        assert len(buy.trade_ids) == 1

        sell = client.create_limit_order(asset_id=T1, price="0.60", size="10", side="SELL")
        placed = client.post_order(sell)
        assert placed.ok and placed.status == "live", placed

        order = client.get_order(order_id=placed.order_id)
        assert order.status == "LIVE"
        assert order.original_size == Decimal("10")
        assert order.price == Decimal("0.6")
        assert order.side == "SELL"
        assert order.asset_id == T1

        with pytest.raises(RequestRejectedError, match="Duplicated") as dup:
            client.post_order(sell)  # the same signed bytes: no second order
        assert dup.value.status == 400
        open_ids = [o.id for o in client.list_open_orders(asset_id=T1).first_page().items]
        assert open_ids == [placed.order_id]

        canceled = client.cancel_order(order_id=placed.order_id)
        assert list(canceled.canceled) == [placed.order_id]
        assert client.get_order(order_id=placed.order_id).status == "CANCELED"

        trades = list(client.list_account_trades(asset_id=T1).first_page().items)
        assert [t.id for t in trades] == list(buy.trade_ids)

    # a second client with the same key falls back from create (400) to derive
    with SecureClient.create(private_key=HARDHAT_KEY, wallet=HARDHAT_ADDR,
                             environment=env) as again_client:
        assert again_client.credentials.key == creds.key
    paths = [(r["method"], r["path"], r["status"]) for r in venue.records]
    assert ("POST", "/auth/api-key", 400) in paths
    assert ("GET", "/auth/derive-api-key", 200) in paths


def test_sdk_signs_position_ids_for_exchange_v3():
    """A Protocol-V2 market (Gamma version "v2", small position ids): domain "3"."""
    venue = Venue()
    venue.add_market(market(("111", "222"), version="v2"))
    venue.fund(HARDHAT_ADDR, Decimal("100"))
    server = LoopServer(venue)
    try:
        env = make_environment(server.url, server.ws_url)
        with SecureClient.create(private_key=HARDHAT_KEY, wallet=HARDHAT_ADDR,
                                 environment=env) as client:
            order = client.create_limit_order(asset_id="111", price="0.40", size="10",
                                              side="BUY")
            venue.markets[venue.market_for_token("111").condition_id].version = "v1"
            with pytest.raises(RequestRejectedError, match="invalid signature"):
                client.post_order(order)  # wrong exchange domain for this market
            venue.markets[venue.market_for_token("111").condition_id].version = "v2"
            placed = client.post_order(order)
            assert placed.ok and placed.status == "live"
    finally:
        server.close()
