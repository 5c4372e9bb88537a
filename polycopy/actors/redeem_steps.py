"""The redeemer's blocking steps, each one job on its I/O thread (actors/io_jobs.py): they talk to
the Data API and, through venue/redeem.py, to the SDK; they never touch the database (the actor
owns its connection) and never decide anything (the actor does, from what they return).

Built by the composition root (bootstrap.redeem_steps) and handed over; tests hand a fake.
"""
from __future__ import annotations

from decimal import Decimal

from polycopy.clients.data_api import DataApi
from polycopy.policy.redeem import Holding, holdings
from polycopy.venue import redeem

ZERO = Decimal(0)
JUDGE_LOOKBACK_S = 120.0  # our orders signed this long before a submit may still move pUSD during it


class Steps:
    def __init__(self, connect, data: DataApi):
        self._connect = connect  # () -> SdkRedeemer (network)
        self.data = data
        self.sdk: redeem.SdkRedeemer | None = None

    # ------------------------------------------------------------ steps

    def connect(self) -> str:
        self.sdk = self._connect()
        return self.sdk.wallet

    @property
    def wallet(self) -> str:
        return self.sdk.wallet if self.sdk is not None else ""

    @property
    def wallet_type(self) -> str:
        return self.sdk.wallet_type if self.sdk is not None else ""

    def scan(self, ended=frozenset()) -> tuple[list[Holding], dict, list[Holding]]:
        """(resolved holdings, condition -> resolution time, mergeable holdings of `ended` markets)."""
        rows = self.data.positions(self.wallet.lower())
        resolved = holdings(rows)
        when = {r.condition_id: r.resolved_ts for r in self.data.resolutions([h.condition_id for h in resolved])
                if r.status == "resolved"} if resolved else {}
        both: dict[str, Holding] = {}
        for p in rows:
            if not p.redeemable and p.size > 0 and p.condition_id in ended:
                h = both.setdefault(p.condition_id, Holding(p.condition_id, {}, {}, p.slug))
                h.shares[p.token_id] = p.size
        return resolved, when, [h for h in both.values() if len(h.shares) == 2]

    def prepare(self, condition_id: str):
        """(shares on chain by token, pUSD, nonce, gas price in gwei for an EOA else None): read
        right before a submit, the nonce last."""
        pos = self.sdk.positions(condition_id)
        pusd = self.sdk.pusd()
        gas = None if self.sdk.gasless else self.sdk.gas_price_gwei()
        return dict(zip(pos.token_ids, pos.shares)), pusd, self.sdk.nonce(), gas

    def submit(self, kind: str, condition_id: str, amount_units: int) -> redeem.Sent:
        return self.sdk.merge(condition_id, amount_units) if kind == "merge" else self.sdk.redeem(condition_id)

    def status(self, sent: redeem.Sent):
        return self.sdk.status(sent)

    def measure(self, condition_id: str):
        """(shares on chain by token, pUSD) after a transaction."""
        pos = self.sdk.positions(condition_id)
        return dict(zip(pos.token_ids, pos.shares)), self.sdk.pusd()

    def recover(self, condition_id: str):
        """(shares on chain by token, nonce now) for a row a crash left `submitting`."""
        pos = self.sdk.positions(condition_id)
        return dict(zip(pos.token_ids, pos.shares)), self.sdk.nonce()


def trades_between(db, since_ts: float, fee_reserve_bps: int) -> tuple[Decimal, Decimal]:
    """(pUSD our BUYs may have spent, pUSD our SELLs certainly received) since a submit: BUYs signed
    from JUDGE_LOOKBACK_S before it (their fills may land on chain during it), fee reserve included;
    SELLs signed after it. Read from the executor's journal (live orders that filled)."""
    buys = sells = ZERO
    rows = db.query("SELECT side, filled_notional, signed_ts FROM exec_orders WHERE mode='live' AND state='accepted' "
                    "AND signed_ts >= ?", [since_ts - JUDGE_LOOKBACK_S]) if "exec_orders" in db.table_names() else []
    for r in rows:
        usd = Decimal(r["filled_notional"] or "0")
        if r["side"] == "BUY":
            buys += usd * (1 + Decimal(fee_reserve_bps) / 10_000)
        elif r["signed_ts"] >= since_ts:
            sells += usd
    return buys, sells
