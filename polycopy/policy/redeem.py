"""What the redeemer does with a resolved position, and whether a redemption paid. Pure.

A resolved market we hold (`/v2/positions` rows with `redeemable`, grouped by condition) is
either *lost* (every held outcome pays 0: closed out in the books, no transaction) or to be
*redeemed* (expected payout = shares x payout per share). Success is judged by balances, never
by the transaction's state (VENUE-2026-12.md §2.3: a redeem sent to CTF directly succeeds and
pays nothing; one through the retired NegRiskAdapter pays WCOL, not pUSD):

- the winning shares must be gone from the wallet, on chain, and
- pUSD must have grown by the payout, give or take what our own orders moved meanwhile: our
  BUYs in the window may have spent up to `buys_usd` (so a rise of payout - buys is enough),
  our SELLs certainly inside it added `sells_usd` (which must not pass for a payout).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)
TOLERANCE_USD = Decimal("0.01")
TOLERANCE_SHARE = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class Holding:
    """Our resolved position in one market, as the Data API lists it."""

    condition_id: str
    shares: dict  # token -> shares held
    payouts: dict  # token -> pUSD per share (1 for the winner, 0 for a loser)
    slug: str = ""

    @property
    def expected_usd(self) -> Decimal:
        return sum((s * self.payouts.get(t, ZERO) for t, s in self.shares.items()), ZERO)

    @property
    def amount(self) -> Decimal:
        return sum(self.shares.values(), ZERO)

    @property
    def lost(self) -> bool:
        return self.expected_usd <= 0


def holdings(positions) -> list[Holding]:
    """`wire.data_api.Position` rows -> one Holding per resolved condition we still hold."""
    by: dict[str, Holding] = {}
    for p in positions:
        if not p.redeemable or p.size <= 0:
            continue
        h = by.get(p.condition_id) or Holding(p.condition_id, {}, {}, p.slug)
        h.shares[p.token_id] = h.shares.get(p.token_id, ZERO) + p.size
        h.payouts[p.token_id] = p.cur_price
        by[p.condition_id] = h
    return list(by.values())


@dataclass(frozen=True, slots=True)
class Verdict:
    state: str  # done | unpaid | not_redeemed
    credited_usd: Decimal = ZERO
    detail: str = ""


def judge(expected_usd: Decimal, winning_before: Decimal, winning_after: Decimal, pusd_before: Decimal,
          pusd_after: Decimal, buys_usd: Decimal = ZERO, sells_usd: Decimal = ZERO) -> Verdict:
    """A redemption (or merge) that reached a terminal state, judged by what the wallet holds."""
    if winning_before <= 0:
        return Verdict("done", ZERO, "nothing held: already redeemed")
    if winning_after > TOLERANCE_SHARE:
        return Verdict("not_redeemed", ZERO, f"{winning_after} winning shares still held")
    rise = pusd_after - pusd_before + buys_usd - sells_usd
    if rise + TOLERANCE_USD + expected_usd * TOLERANCE_SHARE < expected_usd:
        return Verdict("unpaid", max(rise, ZERO), f"shares burned but pUSD rose {rise:.6f} of {expected_usd:.6f}")
    return Verdict("done", expected_usd, f"pUSD +{pusd_after - pusd_before:.6f}")


def winning(shares: dict, payouts: dict) -> Decimal:
    """Shares of the outcomes that pay (what a redemption must burn)."""
    return sum((s for t, s in shares.items() if payouts.get(t, ZERO) > 0), ZERO)
