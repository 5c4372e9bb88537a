"""polysim's chain: the contract calls a redemption or merge makes, run against the venue's
balances (pUSD in `venue.balances`, outcome shares in `venue.holdings`), for the relayer
(relayer.py) and the Polygon JSON-RPC (eoa_rpc.py). Addresses are the SDK's production ones.

Faithful to VENUE-2026-12.md §0.2 and §2.3:
- `redeemPositions(pUSD, 0x0, cid, [1,2])` (0x01b7037c) sent to the collateral adapter of the
  market's kind (standard, neg-risk) burns the wallet's outcome shares of the index sets and
  credits pUSD = shares x payout; a second one pays 0. Before resolution it reverts. Sent to
  the other kind's adapter, or to CTF directly, it succeeds and pays nothing (those position
  ids are keyed to another collateral: nobody holds them).
- `mergePositions(pUSD, 0x0, cid, [1,2], amount)` (0x9e7212ad) on the adapter burns `amount`
  (6 decimals) of each outcome and credits as much pUSD; on CTF it reverts (no such balance).
- v2 markets: Router `redeem(bytes31, outcome, amount)` (0xd217a3cc), `merge(bytes31, amount)`
  (0x5b63685e); balances on PositionManager.
- pUSD `approve`/`transfer`, ERC-1155 `setApprovalForAll` (a no-op: polysim's accounts are
  approved); reads: ERC-20 `balanceOf`/`allowance`/`decimals`, ERC-1155 `balanceOf`,
  `balanceOfBatch` (0x4e1273f4) on CTF, the old NegRiskAdapter (passes through to CTF) and
  PositionManager, CTF `payoutDenominator`/`payoutNumerators`.
Simplified: no gas, no events (receipts carry no logs), approvals always granted, any other
call reverts. A batch of calls is atomic: one revert and nothing moves.
"""
from __future__ import annotations

import time
from decimal import ROUND_DOWN, Decimal

from eth_abi import decode, encode
from eth_utils import to_checksum_address

from polymarket._internal.environment import PRODUCTION_CONFIG as CFG

UNIT = Decimal(1_000_000)
MAX_UINT = 2**256 - 1
PUSD, CTF = CFG.collateral_token.lower(), CFG.conditional_tokens.lower()
OLD_NEG_RISK_ADAPTER = CFG.neg_risk_adapter.lower()
ADAPTER, NEG_RISK_ADAPTER = CFG.collateral_adapter.lower(), CFG.neg_risk_collateral_adapter.lower()
ROUTER, POSITION_MANAGER = CFG.protocol_v2_router.lower(), CFG.position_manager.lower()
REDEEM, MERGE = "01b7037c", "9e7212ad"
ROUTER_REDEEM, ROUTER_MERGE = "d217a3cc", "5b63685e"


class Revert(Exception):
    """A call that reverts: nothing of its batch is applied."""


def base_units(shares: Decimal) -> int:
    return int((shares * UNIT).to_integral_value(rounding=ROUND_DOWN))


class Chain:
    def __init__(self, venue, catalog, feed=None, clock=None):
        self.venue, self.catalog, self.feed, self.clock = venue, catalog, feed, clock

    # -- reads (eth_call) ----------------------------------------------------------------
    def held(self, wallet: str, token: str) -> Decimal:
        return self.venue.holdings.get(to_checksum_address(wallet), {}).get(token, Decimal(0))

    def _erc1155_scope(self, contract: str, token: str) -> bool:
        info = self.catalog.by_token.get(token)
        if info is None:
            return False
        return (info.market.version == "v2") == (contract == POSITION_MANAGER)

    def call(self, to: str, data: bytes) -> bytes:
        to, sel, args = to.lower(), data[:4].hex(), data[4:]
        if to == PUSD and sel == "70a08231":
            (owner,) = decode(["address"], args)
            return encode(["uint256"], [base_units(self.venue.balance(owner))])
        if to == PUSD and sel == "dd62ed3e":
            return encode(["uint256"], [MAX_UINT])
        if to == PUSD and sel == "313ce567":
            return encode(["uint8"], [6])
        if to in (CTF, OLD_NEG_RISK_ADAPTER, POSITION_MANAGER):
            if sel == "00fdd58e":
                owner, token = decode(["address", "uint256"], args)
                ok = self._erc1155_scope(to, str(token))
                return encode(["uint256"], [base_units(self.held(owner, str(token))) if ok else 0])
            if sel == "4e1273f4":
                owners, tokens = decode(["address[]", "uint256[]"], args)
                if len(owners) != len(tokens):
                    raise Revert("ERC1155: accounts and ids length mismatch")
                return encode(["uint256[]"], [[
                    base_units(self.held(o, str(t))) if self._erc1155_scope(to, str(t)) else 0
                    for o, t in zip(owners, tokens)]])
            if sel == "e985e9c5":
                return encode(["bool"], [True])
        if to == CTF and sel in ("dd34de67", "0504c814"):
            info = self.catalog.by_cid.get("0x" + args[:32].hex())
            payouts = info.market.payouts if info is not None and info.market.resolved else None
            if sel == "dd34de67":
                return encode(["uint256"], [1 if payouts else 0])
            (_, index) = decode(["bytes32", "uint256"], args)
            return encode(["uint256"], [int(payouts[index]) if payouts and index < 2 else 0])
        raise Revert(f"execution reverted: polysim has no read {sel} on {to}")

    # -- writes ----------------------------------------------------------------------------
    def execute(self, wallet: str, calls: list[tuple[str, bytes]], tx_hash: str = "",
                dry: bool = False) -> list[tuple[str, str, Decimal]]:
        """Run `calls` from `wallet` (atomic); return the balance moves. `dry` applies none."""
        moves: list[tuple[str, str, Decimal]] = []
        events: list[tuple[str, object, Decimal, Decimal]] = []
        for to, data in calls:
            self._one(to_checksum_address(wallet), to.lower(), data, moves, events)
        if not dry:
            for address, asset, amount in moves:
                self.venue.move(address, asset, amount)
            for kind, info, size, usdc in events:
                self._activity(wallet, kind, info, size, usdc, tx_hash)
        return moves

    def _have(self, wallet: str, asset: str, moves) -> Decimal:
        base = self.venue.balance(wallet) if asset == "pUSD" else self.held(wallet, asset)
        return base + sum((a for w, s, a in moves if w == wallet and s == asset), Decimal(0))

    def _one(self, wallet: str, to: str, data: bytes, moves: list, events: list) -> None:
        sel, args = data[:4].hex(), data[4:]
        try:
            if sel in (REDEEM, MERGE) and to in (ADAPTER, NEG_RISK_ADAPTER, CTF):
                return self._ctf(wallet, to, sel, args, moves, events)
            if sel in (ROUTER_REDEEM, ROUTER_MERGE) and to == ROUTER:
                return self._router(wallet, sel, args, moves, events)
            if to == PUSD and sel == "a9059cbb":
                dest, amount = decode(["address", "uint256"], args)
                shares = Decimal(amount) / UNIT
                self._take(wallet, "pUSD", shares, moves)
                moves.append((to_checksum_address(dest), "pUSD", shares))
                return None
            if (to == PUSD and sel == "095ea7b3") or (
                    to in (CTF, POSITION_MANAGER) and sel == "a22cb465"):
                return None  # approvals: polysim's accounts are always approved
        except (ValueError, TypeError, OverflowError) as exc:  # undecodable arguments
            raise Revert(f"execution reverted: bad calldata ({str(exc)[:60]})") from None
        raise Revert(f"execution reverted: polysim does not model call {sel} to {to}")

    def _take(self, wallet: str, asset: str, amount: Decimal, moves: list) -> None:
        if self._have(wallet, asset, moves) < amount:
            raise Revert("execution reverted: ERC1155/ERC20: amount exceeds balance")
        moves.append((wallet, asset, -amount))

    def _ctf(self, wallet, to, sel, args, moves, events) -> None:
        types = ["address", "bytes32", "bytes32", "uint256[]"] + (["uint256"] if sel == MERGE else [])
        collateral, _parent, cid, sets, *amount = decode(types, args)
        info = self.catalog.by_cid.get("0x" + cid.hex())
        if info is None:
            raise Revert("execution reverted: condition not prepared")
        m = info.market
        ours = m.version == "v1" and collateral.lower() == PUSD and to == (
            NEG_RISK_ADAPTER if m.neg_risk else ADAPTER)
        if sel == MERGE:
            if not ours:
                raise Revert("execution reverted: ERC1155: burn amount exceeds balance")
            shares = Decimal(amount[0]) / UNIT
            for token in m.tokens:
                self._take(wallet, token, shares, moves)
            moves.append((wallet, "pUSD", shares))
            events.append(("MERGE", info, shares, shares))
            return
        if not m.resolved:
            raise Revert("execution reverted: result for condition not received yet")
        if not ours:
            return  # succeeds, pays nothing: those position ids are keyed to other collateral
        paid = burned = Decimal(0)
        for i, token in enumerate(m.tokens):
            if any(s >> i & 1 for s in sets):
                size = self._have(wallet, token, moves)
                if size > 0:
                    moves.append((wallet, token, -size))
                    paid += size * m.payouts[i]
                    burned += size
        if paid:
            moves.append((wallet, "pUSD", paid))
        if burned:
            events.append(("REDEEM", info, burned, paid))

    def _router(self, wallet, sel, args, moves, events) -> None:
        if sel == ROUTER_REDEEM:
            cid31, index, amount = decode(["bytes31", "uint256", "uint256"], args)
        else:
            (cid31, amount), index = decode(["bytes31", "uint256"], args), None
        info = next((i for i in list(self.catalog.by_cid.values()) if i.market.version == "v2"
                     and i.market.condition_id[2:64] == cid31.hex()), None)
        if info is None:
            raise Revert("execution reverted: unknown market")
        m, shares = info.market, Decimal(amount) / UNIT
        if sel == ROUTER_MERGE:
            for token in m.tokens:
                self._take(wallet, token, shares, moves)
            moves.append((wallet, "pUSD", shares))
            events.append(("MERGE", info, shares, shares))
            return
        if not m.resolved or index >= len(m.tokens):
            raise Revert("execution reverted: market not resolved")
        self._take(wallet, m.tokens[index], shares, moves)
        paid = shares * m.payouts[index]
        if paid:
            moves.append((wallet, "pUSD", paid))
        events.append(("REDEEM", info, shares, paid))

    def _activity(self, wallet, kind, info, size, usdc, tx_hash) -> None:
        if self.feed is None:
            return
        m, now = info.market, time.time()
        row = {"proxyWallet": wallet.lower(), "timestamp": int(now), "conditionId": m.condition_id,
               "type": kind, "size": size, "usdcSize": usdc, "transactionHash": tx_hash,
               "price": 0, "asset": "", "side": "", "outcomeIndex": 999, "title": m.question,
               "slug": m.slug, "icon": info.icon, "eventSlug": m.event_slug, "outcome": "",
               "name": "", "pseudonym": "", "bio": "", "profileImage": "",
               "profileImageOptimized": ""}
        self.feed.add_activity(wallet, row, time.monotonic_ns())

    def zero_redeem(self, wallet: str, calls: list[tuple[str, bytes]]) -> bool:
        """The relayer's precheck: a redeem of a market the wallet holds nothing of."""
        for to, data in calls:
            if data[:4].hex() == REDEEM and to.lower() in (ADAPTER, NEG_RISK_ADAPTER):
                try:
                    cid = decode(["address", "bytes32", "bytes32", "uint256[]"], data[4:])[2]
                except (ValueError, TypeError, OverflowError):
                    return False
                info = self.catalog.by_cid.get("0x" + cid.hex())
                if info is not None and all(self.held(wallet, t) <= 0 for t in info.market.tokens):
                    return True
        return False
