"""The Venue: markets, books, accounts, orders, trades and the event fan-out.

Everything runs on one asyncio loop (the server's); methods are plain sync calls.
Placement lives in `engine.py`, cancels/heartbeats/settlement in `lifecycle.py`.
"""
from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from eth_utils import to_checksum_address

from polycopy.sim.model import SimMarket, VenueFaults
from polycopy.sim.venue import engine, lifecycle
from polycopy.sim.venue.auth import KeyStore
from polycopy.sim.venue.book import Book, Resting
from polycopy.sim.venue.orders import domain_separator, exchange_domain
from polycopy.sim.venue.wire import OrderRecord, book_json, dec, ws_book_event

UNLIMITED = Decimal("1e30")  # pUSD; "max" allowance


class Venue:
    """The simulated CLOB. Knobs a scenario or test may set at run time: `faults`,
    `heartbeat_timeout_s`, `settle_delays_s`, `check_wallets` (maker must be the wallet
    derived from the signing EOA), `max_clock_skew_s` (L2 timestamp window), `allowances`.
    Register known credentials with `keys.register(...)`; `keys.derive` makes new ones."""

    def __init__(self, *, chain_id: int = 137, clock=time.time):
        self.chain_id = chain_id
        self.clock = clock
        self.faults = VenueFaults()
        self.markets: dict[str, SimMarket] = {}
        self.books: dict[str, Book] = {}
        self.keys = KeyStore()
        self.orders: dict[str, OrderRecord] = {}
        self.trades: list[dict] = []
        self.records: list[dict] = []
        self.last_trade: dict[str, tuple[Decimal, str]] = {}  # token -> (price, taker side)
        self.balances: dict[str, Decimal] = {}
        self.allowances: dict[str, Decimal] = {}
        self.holdings: dict[str, dict[str, Decimal]] = {}
        self.funders: dict[tuple[str, int], str] = {}  # (EOA, signature type) -> maker
        self.heartbeat_timeout_s = 10.0
        self.heartbeats: dict[str, lifecycle.Heartbeat] = {}
        self.settle_delays_s = (0.5, 1.0)  # MATCHED -> MINED -> CONFIRMED
        self.check_wallets = True  # maker must be the wallet derived from the signer (type 1-3)
        self.max_clock_skew_s: float | None = None  # L2 timestamp window; None = unchecked
        self.market_subs: list[tuple[asyncio.Queue, set[str]]] = []
        self.user_subs: list[tuple[asyncio.Queue, str, set[str]]] = []  # (q, key, markets)
        self._token_market: dict[str, SimMarket] = {}
        self._trade_deltas: dict[str, list[tuple[str, str, Decimal]]] = {}

    # -- markets and books ---------------------------------------------------------------
    def add_market(self, m: SimMarket) -> None:
        self.markets[m.condition_id] = m
        for token in m.tokens:
            self._token_market[token] = m
            self.books.setdefault(token, Book(token))

    def market_for_token(self, token_id: str) -> SimMarket | None:
        return self._token_market.get(token_id)

    def separator_for(self, m: SimMarket) -> bytes:
        version, contract = exchange_domain(version=m.version, neg_risk=m.neg_risk)
        return domain_separator(self.chain_id, version, contract)

    def set_book(self, token_id: str, bids: list[tuple[Decimal, Decimal]],
                 asks: list[tuple[Decimal, Decimal]]) -> None:
        """Replace the scenario liquidity of a token (API users' orders stay)."""
        book = self.books[token_id]
        book.clear_liquidity()
        for side, levels in (("BUY", bids), ("SELL", asks)):
            for i, (price, size) in enumerate(levels):
                if size > 0:
                    book.add(Resting(order_id=f"sim-{token_id[:8]}-{side}-{i}", side=side,
                                     price=Decimal(price), size=Decimal(size)))
        self.publish_market(token_id, ws_book_event(self.book(token_id)))

    def book(self, token_id: str) -> dict:
        m = self._token_market[token_id]
        last = self.last_trade.get(token_id)
        return book_json(m, self.books[token_id], self.now_ms(),
                         last[0] if last else None)

    def set_tick_size(self, token_id: str, tick: Decimal) -> None:
        m = self._token_market[token_id]
        old, m.tick_size = m.tick_size, Decimal(tick)
        for token in m.tokens:
            self.publish_market(token, {
                "event_type": "tick_size_change", "asset_id": token,
                "market": m.condition_id, "old_tick_size": dec(old),
                "new_tick_size": dec(m.tick_size), "timestamp": str(self.now_ms())})

    # -- accounts ------------------------------------------------------------------------
    def fund(self, address: str, pusd: Decimal,
             positions: dict[str, Decimal] | None = None) -> None:
        """Set a funder's pUSD balance (allowance unlimited) and, optionally, positions."""
        address = to_checksum_address(address)
        self.balances[address] = Decimal(pusd)
        self.allowances.setdefault(address, UNLIMITED)
        held = self.holdings.setdefault(address, {})
        for token, shares in (positions or {}).items():
            held[token] = Decimal(shares)

    def balance(self, address: str) -> Decimal:
        return self.balances.get(to_checksum_address(address), Decimal(0))

    def positions(self, address: str) -> dict[str, Decimal]:
        return dict(self.holdings.get(to_checksum_address(address), {}))

    def move(self, address: str, asset: str, amount: Decimal) -> None:
        """Add `amount` of pUSD (asset "pUSD") or of a token to a funder."""
        if asset == "pUSD":
            self.balances[address] = self.balances.get(address, Decimal(0)) + amount
        else:
            held = self.holdings.setdefault(address, {})
            held[asset] = held.get(asset, Decimal(0)) + amount

    def available(self, address: str, asset: str) -> Decimal:
        """Balance (capped by allowance) minus what open orders reserve."""
        if asset == "pUSD":
            have = min(self.balances.get(address, Decimal(0)),
                       self.allowances.get(address, Decimal(0)))
        else:
            have = self.holdings.get(address, {}).get(asset, Decimal(0))
        for o in self.orders.values():
            if o.status != "LIVE" or o.signed.maker != address:
                continue
            left = o.original_size - o.size_matched
            if asset == "pUSD" and o.side == "BUY":
                have -= left * o.price
            elif o.side == "SELL" and o.asset_id == asset:
                have -= left
        return have

    # -- time and events -----------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def publish_market(self, token_id: str, event: dict) -> None:
        for q, assets in self.market_subs:
            if token_id in assets:
                q.put_nowait(event)

    def publish_user(self, key: str, condition_id: str, event: dict) -> None:
        for q, sub_key, markets in self.user_subs:
            if sub_key == key and (not markets or condition_id in markets):
                q.put_nowait(event)

    # -- delegated operations ------------------------------------------------------------
    def place(self, api, body: object) -> tuple[int, dict]:
        return engine.place(self, api, body)

    def cancel(self, key: str, order_ids: list[str]) -> dict:
        return lifecycle.cancel(self, key, order_ids)

    def heartbeat(self, key: str, heartbeat_id: object) -> tuple[int, dict]:
        return lifecycle.heartbeat(self, key, heartbeat_id)
