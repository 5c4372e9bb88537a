"""POST /order: validate a V2 order body, match it, rest the remainder (CLOB-V2.md §4).

`place` returns (HTTP status, JSON body). Checks run in this order: shape and version,
market, signature, owner/signer vs the API key, duplicate, restricted mode, market
state, expiration, amount decimals, tick grid, minimum size, post-only, funds, matching.
"""
from __future__ import annotations

import math
import secrets
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from polycopy.sim.venue import lifecycle
from polycopy.sim.venue.book import Fill, Resting
from polycopy.sim.venue.orders import (
    UNIT, OrderError, SignedOrder, order_digest, parse_order, signing_owner)
from polycopy.sim.venue.wallets import wallets_of
from polycopy.sim.venue.wire import OrderRecord, dec, ws_order_event

if TYPE_CHECKING:
    from polycopy.sim.model import SimMarket
    from polycopy.sim.venue.auth import ApiKey
    from polycopy.sim.venue.state import Venue

ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")
FOK_MSG = "order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_MSG = ("no orders found to match with FAK order. "
           "FAK orders are partially filled or killed if no match is found.")
BALANCE_MSG = "not enough balance / allowance"
POST_ONLY_MODE_MSG = "post-only mode: only post-only orders and cancels are allowed"
# (price, size, amount) decimals per tick size (CLOB-V2.md §2.6)
ROUNDING = {Decimal("0.1"): 3, Decimal("0.01"): 4, Decimal("0.005"): 5,
            Decimal("0.0025"): 6, Decimal("0.001"): 5, Decimal("0.0001"): 6}


class PostOnlyMode(OrderError):
    def __init__(self, retry_after: int):
        super().__init__(POST_ONLY_MODE_MSG, status=503)
        self.retry_after = retry_after


def fee_for(m: SimMarket, shares: Decimal, price: Decimal) -> Decimal:
    """Taker fee in pUSD: shares * r * (p(1-p))^e, rounded to 5 decimals."""
    fee = shares * m.fee_rate * (price * (1 - price)) ** m.fee_exponent
    return fee.quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


def _decimals(units: int) -> int:
    exp = (Decimal(units) * UNIT).normalize().as_tuple().exponent
    return max(0, -exp)


def _check_amounts(o: SignedOrder, m: SimMarket, order_type: str, oid: str) -> None:
    amount_dp = ROUNDING.get(m.tick_size, 6)
    market = order_type in ("FOK", "FAK")
    share_units = o.taker_amount if o.side == "BUY" else o.maker_amount
    pusd_units = o.maker_amount if o.side == "BUY" else o.taker_amount
    if market and o.side == "BUY":
        if _decimals(o.maker_amount) > 2 or _decimals(o.taker_amount) > amount_dp:
            raise OrderError("invalid amounts, the market buy orders maker amount supports a max "
                             f"accuracy of 2 decimals, taker amount a max of {amount_dp} decimals")
    elif _decimals(share_units) > 2 or _decimals(pusd_units) > amount_dp:
        side = "buy" if o.side == "BUY" else "sell"
        raise OrderError(f"invalid amounts, the {side} orders shares support a max accuracy of "
                         f"2 decimals, pUSD amount a max of {amount_dp} decimals")
    price, tick = o.price, m.tick_size
    on_grid = (price % tick == 0) and tick <= price <= 1 - tick
    if not (0 < price < 1) or (not market and not on_grid):
        raise OrderError(f"order {oid} is invalid. Price ({dec(price)}) breaks minimum tick "
                         f"size rule: {dec(tick)}")
    if o.shares < m.min_order_size:
        raise OrderError(f"order {oid} is invalid. Size ({dec(o.shares)}) lower than the "
                         f"minimum: {dec(m.min_order_size)}")
    if market and o.side == "BUY" and o.pusd < 1:
        raise OrderError(f"invalid amount for a marketable BUY order (${dec(o.pusd)}), "
                         "min size: $1")


def _validate(v: Venue, api: ApiKey, body: object) -> tuple[SignedOrder, SimMarket, str, str]:
    if not isinstance(body, dict) or not isinstance(body.get("order"), dict):
        raise OrderError("Invalid order payload")
    o = parse_order(body["order"])
    order_type, post_only = body.get("orderType", "GTC"), body.get("postOnly", False)
    if order_type not in ORDER_TYPES or not isinstance(post_only, bool):
        raise OrderError("Invalid order payload")
    m = v.market_for_token(o.token_id)
    if m is None:
        raise OrderError("market not found", status=404)
    sep = v.separator_for(m)
    oid = "0x" + order_digest(o, sep).hex()
    owner_eoa = signing_owner(o, sep, v.chain_id)
    if owner_eoa is None or (v.check_wallets
                             and o.maker.lower() not in wallets_of(owner_eoa, o.signature_type)):
        raise OrderError("invalid signature")
    if body.get("owner") != api.key:
        raise OrderError("the order owner has to be the owner of the API KEY")
    if owner_eoa != api.address:
        raise OrderError("the order signer address has to be the address of the API KEY")
    if oid in v.orders:
        raise OrderError(f"order {oid} is invalid. Duplicated.")
    if time.monotonic() < v.faults.post_only_until and not post_only:
        raise PostOnlyMode(max(1, math.ceil(v.faults.post_only_until - time.monotonic())))
    if m.closed or not m.accepting_orders:
        raise OrderError("the market is not yet ready to process new orders")
    if order_type == "GTD" and o.expiration <= v.clock() + 60:
        raise OrderError("invalid expiration")
    if post_only and order_type not in ("GTC", "GTD"):
        raise OrderError("invalid post-only order: only GTC and GTD orders can be post-only")
    _check_amounts(o, m, order_type, oid)
    if post_only and v.books[o.token_id].crosses(o.side, o.price):
        raise OrderError("invalid post-only order: order crosses book")
    return o, m, order_type, oid


def place(v: Venue, api: ApiKey, body: object) -> tuple[int, dict]:
    try:
        o, m, order_type, oid = _validate(v, api, body)
        return 200, _execute(v, api, o, m, order_type, oid)
    except PostOnlyMode as e:
        return 503, {"error": e.message, "code": "post_only_mode",
                     "retry_after_seconds": e.retry_after}
    except OrderError as e:
        return e.status, {"error": e.message}


def _execute(v: Venue, api: ApiKey, o: SignedOrder, m: SimMarket, order_type: str,
             oid: str) -> dict:
    book = v.books[o.token_id]
    market_order = order_type in ("FOK", "FAK")
    if market_order and o.side == "BUY":
        fills = book.plan("BUY", o.price, budget=o.pusd)
        done = o.pusd - sum((f.cost for f in fills), Decimal(0)) <= UNIT * len(fills or [1])
    else:
        fills = book.plan(o.side, o.price, shares=o.shares)
        done = sum((f.shares for f in fills), Decimal(0)) >= o.shares
    if order_type == "FOK" and not done:
        raise OrderError(FOK_MSG)
    if order_type == "FAK" and not fills:
        raise OrderError(FAK_MSG)
    fees = [fee_for(m, f.shares, f.price) for f in fills]
    if o.side == "BUY":
        if v.available(o.maker, "pUSD") < o.pusd + sum(fees, Decimal(0)):
            raise OrderError(BALANCE_MSG)
    elif v.available(o.maker, o.token_id) < o.shares:
        raise OrderError(BALANCE_MSG)
    before = {s: book.levels(s) for s in ("BUY", "SELL")}
    rec = OrderRecord(id=oid, key=api.key, signed=o, market=m, order_type=order_type,
                      price=o.price if not market_order else o.price.quantize(m.tick_size),
                      original_size=o.shares, created_at=int(v.clock()))
    if market_order and o.side == "BUY":
        rec.original_size = sum((f.shares for f in fills), Decimal(0))
    v.orders[oid] = rec
    v.funders[(api.address, o.signature_type)] = o.maker
    book.apply(fills)
    trades = [_trade(v, rec, f, fee) for f, fee in zip(fills, fees)]
    rec.size_matched = sum((f.shares for f in fills), Decimal(0))
    if not market_order and rec.size_matched < rec.original_size:
        book.add(Resting(order_id=oid, side=o.side, price=rec.price,
                         size=rec.original_size - rec.size_matched, owner=api.key,
                         maker=o.maker))
        if order_type == "GTD":  # expires one minute before `expiration` (security threshold)
            lifecycle.expire_at(v, rec, o.expiration - 60)
    else:
        rec.status = "MATCHED" if fills else "CANCELED"
    lifecycle.after_match(v, rec, trades, before)
    spent = sum((f.cost for f in fills), Decimal(0))
    got = rec.size_matched
    making, taking = (spent, got) if o.side == "BUY" else (got, spent)
    out = {
        "success": True,
        "errorMsg": "",
        "orderID": oid,
        "status": "matched" if fills else "live",
        "makingAmount": dec(making) if fills else "",
        "takingAmount": dec(taking) if fills else "",
        "tradeIDs": [t["id"] for t in trades],
        "transactionsHashes": [t["transaction_hash"] for t in trades],
    }
    if market_order:  # since 2026-07-24 FAK/FOK answers carry trade ids only (VENUE §0.7)
        del out["transactionsHashes"]
    return out


def _trade(v: Venue, taker: OrderRecord, f: Fill, fee: Decimal) -> dict:
    """Book one fill: move funds, update the maker's order, return the canonical trade."""
    m, token, r = taker.market, taker.asset_id, f.resting
    buyer_pays = f.cost
    taker_addr = taker.signed.maker
    deltas: list[tuple[str, str, Decimal]] = []
    if taker.side == "BUY":
        deltas += [(taker_addr, "pUSD", -(buyer_pays + fee)), (taker_addr, token, f.shares)]
    else:
        deltas += [(taker_addr, token, -f.shares), (taker_addr, "pUSD", buyer_pays - fee)]
    if r.owner is not None:
        if r.side == "BUY":
            deltas += [(r.maker, "pUSD", -buyer_pays), (r.maker, token, f.shares)]
        else:
            deltas += [(r.maker, token, -f.shares), (r.maker, "pUSD", buyer_pays)]
    for addr, asset, amount in deltas:
        v.move(addr, asset, amount)
    now = str(int(v.clock()))
    trade_id = str(uuid.uuid4())
    maker_order = v.orders.get(r.order_id)
    maker_key = r.owner or ""
    maker_addr = r.maker or "0x0000000000000000000000000000000000000000"
    if maker_order is not None:
        maker_order.size_matched += f.shares
        maker_order.associate_trades.append(trade_id)
        if maker_order.size_matched >= maker_order.original_size:
            maker_order.status = "MATCHED"
    taker.associate_trades.append(trade_id)
    bps = dec(m.fee_rate * 10000)
    trade = {
        "id": trade_id, "taker_order_id": taker.id, "market": m.condition_id,
        "asset_id": token, "side": taker.side, "size": dec(f.shares),
        "fee_rate_bps": bps, "price": dec(f.price), "status": "MATCHED",
        "match_time": now, "last_update": now, "outcome": m.outcome_of(token),
        "bucket_index": 0, "owner": taker.key, "maker_address": taker_addr,
        "transaction_hash": "0x" + secrets.token_hex(32), "trader_side": "TAKER",
        "maker_orders": [{
            "order_id": r.order_id, "owner": maker_key, "maker_address": maker_addr,
            "matched_amount": dec(f.shares), "price": dec(f.price), "fee_rate_bps": "0",
            "asset_id": token, "outcome": m.outcome_of(token), "side": r.side}],
        "fee": dec(fee),  # pUSD the taker paid; not served on REST (INTERNAL_KEYS)
        "match_mono_ns": time.monotonic_ns(),
    }
    v.trades.append(trade)
    v._trade_deltas[trade_id] = deltas
    if maker_order is not None:
        v.publish_user(maker_key, m.condition_id,
                       ws_order_event(maker_order, "UPDATE", int(v.clock())))
    return trade
