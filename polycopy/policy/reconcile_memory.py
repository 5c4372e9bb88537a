"""What the reconciler remembers between rounds, and how it turns one round's data into the
TokenViews policy/reconcile.py decides on. Pure: no I/O, no actor.

- baseline: the source's shares when we started; a position the source already held is not
  bought (unless `adopt_existing_positions`). A token is *tracked* once its source position
  moved while we watched, or we hold it.
- our shares last round: a token whose position moved since is left to settle for a round.
- corrections in flight: a token is not corrected again until `settle_s` has passed; each
  correction in a row that did not move our position (refused by risk, not filled) doubles
  that wait, so a drift held back by a cap is not re-sent every round.
- causes: the source's merges, splits, redemptions and conversions, per token, named in the
  corrections they explain.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from polycopy.policy.reconcile import Correction, Params, TokenView, activity_changes, target_shares

ZERO = Decimal(0)
MAX_BACKOFF_S = 600.0


def _act_key(a) -> tuple:
    return (a.type, a.tx_hash, a.condition_id, a.token_id, str(a.size), a.timestamp)


def last_trades(acts) -> dict[str, int]:
    """token -> the source's latest TRADE timestamp among these activity rows."""
    out: dict[str, int] = {}
    for a in acts:
        if a.type == "TRADE" and a.token_id:
            out[a.token_id] = max(out.get(a.token_id, 0), a.timestamp)
    return out


@dataclass
class Memory:
    baseline: dict | None = None  # token -> source shares at the first round
    tracked: set = field(default_factory=set)
    last_ours: dict | None = None  # token -> our shares last round
    pending_until: dict = field(default_factory=dict)  # token -> wall time its correction is in flight until
    corrected_at: dict = field(default_factory=dict)  # token -> our shares when its last correction was sent
    strikes: dict = field(default_factory=dict)  # token -> futile corrections in a row
    causes: dict = field(default_factory=dict)  # token -> (activity cause, its timestamp)
    seen_activity: dict = field(default_factory=dict)  # activity row key -> timestamp

    def take_baseline(self, sizes: dict) -> bool:
        """The first round's source positions become the baseline; True if taken now."""
        if self.baseline is not None:
            return False
        self.baseline = dict(sizes)
        return True

    def note_activity(self, acts, tokens_of: dict) -> tuple[list, list]:
        """New non-trade rows -> (position changes, rows on markets with no known tokens). Rows of
        unknown markets stay unseen, so they count once the market's facts arrive."""
        fresh = [a for a in acts if a.type != "TRADE" and _act_key(a) not in self.seen_activity]
        known = [a for a in fresh if a.condition_id in tokens_of]
        for a in known:
            self.seen_activity[_act_key(a)] = a.timestamp
        changes = activity_changes(known, tokens_of)
        for c in changes:
            self.causes[c.token_id] = (c.cause, c.timestamp)
        horizon = min((a.timestamp for a in acts), default=0)  # older rows are no longer listed
        self.seen_activity = {k: ts for k, ts in self.seen_activity.items() if ts >= horizon}
        return changes, [a for a in fresh if a.condition_id not in tokens_of]

    def may_act(self, token: str, pos, ours: Decimal, p: Params) -> bool:
        """Could this token need a correction? Only those are worth a market lookup."""
        if pos is not None and pos.redeemable:
            return False
        src = pos.size if pos is not None else ZERO
        target = target_shares(src, p.sizing)
        if target is None or abs(target - ours) <= p.tolerance_shares:
            return False
        changed = self.baseline is not None and src != self.baseline.get(token, ZERO)  # first round: the baseline
        return ours > 0 or p.adopt_existing or token in self.tracked or changed

    def view(self, token: str, pos, ours: Decimal, price: Decimal, facts, last_trade_ts: int, now: float,
             p: Params, refused: dict | None = None) -> TokenView:
        src = pos.size if pos is not None else ZERO
        cid = facts.condition_id if facts else (pos.condition_id if pos else "")
        slug = facts.slug if facts else (pos.slug if pos else "")
        if p.adopt_existing or ours > 0 or src != (self.baseline or {}).get(token, ZERO):
            self.tracked.add(token)
        cause, cause_ts = self.causes.get(token, ("", 0))
        return TokenView(
            token_id=token, condition_id=cid, source=src, ours=ours, price=price,
            end_ts=facts.end_ts if facts else 0,  # no market, no correction (risk needs it too)
            accepting_orders=facts.accepting_orders if facts else True,
            resolved=bool(pos is not None and pos.redeemable) or cause == "redeem",
            min_order_size=facts.min_order_size if facts else None,
            tick_size=facts.tick_size if facts else None,
            last_source_trade_ts=last_trade_ts,
            ours_changed=self.last_ours is not None and self.last_ours.get(token, ZERO) != ours,
            pending=self.pending_until.get(token, 0) > now, tracked=token in self.tracked,
            cause=cause if cause_ts >= now - p.cause_window_s else "", slug=slug, refused=refused or None,
        )

    def corrected(self, c: Correction, now: float, p: Params) -> None:
        """A correction was sent: hold the token until it can have settled (longer after futile ones)."""
        futile = self.corrected_at.get(c.token_id) == c.ours
        strikes = self.strikes[c.token_id] = self.strikes.get(c.token_id, -1) + 1 if futile else 0
        wait = max(p.settle_s, 1.0) * 2 ** min(strikes, 10)
        self.pending_until[c.token_id] = now + min(wait, MAX_BACKOFF_S)
        self.corrected_at[c.token_id] = c.ours
