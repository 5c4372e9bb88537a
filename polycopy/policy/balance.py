"""What pUSD a new BUY may still spend. Pure: risk owns one `BalanceBook`.

    available = newest venue balance (min with the allowance)
              - open BUY reservations (approved, no final outcome yet)
              - BUY fills risk settled after that balance was asked for

The venue balance comes from a read (`BalanceSeen`) stamped with the instant its request was
sent. A fill whose outcome risk settled *before* that instant happened at the venue before the
read too, so the read already counts it; a fill settled after it may or may not be in the read,
and is counted again: at worst twice, never zero times. A reservation is counted until its
outcome arrives, whatever the reads say. So no interleaving of reads, approvals and outcomes can
show more pUSD than there is: two intents never spend the same dollars. The price of that is a
balance that looks a little smaller than it is until the next read; SELL proceeds and
redemption payouts are not added by hand for the same reason: they arrive with the next read
(the redeemer sends one as soon as a payout lands).

Every amount is the order's notional times (1 + `fee_reserve_bps`): the venue wants the order's
pUSD *plus* the taker fee available before it matches (polysim: `engine.py`; the fee is at most
the fee rate times the notional).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)
BPS = Decimal(10_000)


@dataclass(slots=True)
class BalanceBook:
    fee_reserve_bps: int = 0
    balance: Decimal | None = None  # None until the first read: risk does not judge the balance then
    allowance: Decimal | None = None
    asked_ns: int = 0  # monotonic ns at which the newest read was asked for
    reserved: dict = field(default_factory=dict)  # intent id -> pUSD held for an open BUY
    spent: list = field(default_factory=list)  # (settled mono ns, pUSD) of BUY fills since the read

    def cost(self, notional: Decimal) -> Decimal:
        """pUSD the venue wants available for an order of this notional."""
        return notional * (1 + Decimal(self.fee_reserve_bps) / BPS)

    def seen(self, balance: Decimal, asked_ns: int, allowance: Decimal | None = None) -> bool:
        """A venue read. An older read than the one held is ignored (False): its instant would
        drop fills the newer read may not contain."""
        if self.balance is not None and asked_ns < self.asked_ns:
            return False
        self.balance, self.allowance, self.asked_ns = balance, allowance, asked_ns
        self.spent = [(t, usd) for t, usd in self.spent if t >= asked_ns]
        return True

    def available(self) -> Decimal | None:
        """pUSD a new BUY may use; None while no read has arrived."""
        if self.balance is None:
            return None
        base = self.balance if self.allowance is None else min(self.balance, self.allowance)
        return base - sum(self.reserved.values(), ZERO) - sum((usd for _, usd in self.spent), ZERO)

    def room(self) -> Decimal | None:
        """The notional a new BUY may have (what `available` pays for, fee reserve included)."""
        avail = self.available()
        return None if avail is None else max(avail, ZERO) / self.cost(Decimal(1))

    def reserve(self, intent_id: str, notional: Decimal) -> None:
        self.reserved[intent_id] = self.cost(notional)

    def settle(self, intent_id: str, status: str, filled_notional: Decimal, now_ns: int) -> None:
        """An OrderOutcome: a final one frees the reservation and counts what filled as spent;
        `unknown` keeps the reservation (the order may still fill)."""
        if intent_id not in self.reserved or status not in ("filled", "partial", "rejected", "not_sent"):
            return
        del self.reserved[intent_id]
        if filled_notional > 0:
            self.spent.append((now_ns, self.cost(filled_notional)))

    def snapshot(self) -> dict:
        avail = self.available()
        return {"balance_usd": None if self.balance is None else str(self.balance),
                "allowance_usd": None if self.allowance is None else str(self.allowance),
                "reserved_usd": str(sum(self.reserved.values(), ZERO)),
                "available_usd": None if avail is None else str(avail)}
