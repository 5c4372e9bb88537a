"""The chaos benchmark's figures, from what a finished run left behind (pure: tests build the inputs).

Inputs: polysim's source-fill records and CLOB request records, its holdings of our wallet, and
the bot's tables (`fills`, `decisions`, `exec_intents`, `exec_orders`).

Per source fill in the window, one verdict:
- `copied`: an intent covering the fill has an order the venue accepted (a 200 to `POST /order`);
- `stale_at_restart` (policy, reported apart): intake recorded it "stale", older than
  `copy.max_fill_age_at_start_s` when it arrived after a (re)start;
- `policy:<reason>`: refused by a rule that refuses it in a run without faults too (a coalescer
  drop or a risk rejection with a reason in POLICY_REASONS: size, caps, near expiry, ...);
- `lost:<where>`: everything else, by the last place it was seen.
eligible = the window's source fills - stale_at_restart - policy. Copied by size weighs each
fill by its source shares.

Duplicates (orders the venue accepted beyond one per source fill): extra accepted orders among the
intents covering one fill, accepted orders for fills polysim never made, accepted orders whose id
is in no journal row (signed for an intent the journal no longer knows: "same intent, another
hash"), and order ids accepted twice.
Overfill: per token, our shares at polysim against the source's net shares x the sizing ratio
(all source fills, whatever the window: the holdings include everything); above is overfill.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from bench.collect import norm_key
from polycopy.policy.coalesce import intent_id_for

POLICY_REASONS = frozenset({
    "near_expiry", "market_ended", "not_accepting_orders",  # the market's clock
    "cap_order", "cap_daily", "cap_market", "cap_window", "cap_portfolio",  # risk's caps
    "zero_size", "below_min_size", "below_min_notional", "netted_out",  # too small to trade
})
EPS = Decimal("0.000001")


@dataclass
class Tables:
    """Everything the counting reads, as plain rows."""

    source: list = field(default_factory=list)  # polysim source_fills records
    posts: list = field(default_factory=list)  # polysim clob records of POST /order
    holdings: dict = field(default_factory=dict)  # token -> our shares at polysim
    fills: list = field(default_factory=list)  # bot `fills` rows (key, status, feed)
    decisions: list = field(default_factory=list)  # bot `decisions` rows (intent_id, decision, reason, fill_keys)
    intents: list = field(default_factory=list)  # bot `exec_intents` rows (intent_id, state, reason)
    orders: list = field(default_factory=list)  # bot `exec_orders` rows (order_id, intent_id, state)
    outcomes: dict = field(default_factory=dict)  # intent id -> "status:reason" the executor logged


def accepted_ids(posts: list) -> Counter:
    """Order id -> how many POSTs of it the venue accepted."""
    return Counter(p["order_id"] for p in posts if p.get("status") == 200 and p.get("order_id"))


def intents_by_fill(t: Tables) -> dict:
    """Normalised fill key -> the intent ids that cover it: the fill-by-fill id (hash of the one key)
    and every intent whose risk verdict lists the key (intent_net pieces)."""
    out: dict = {}
    for row in t.fills:
        k = norm_key(row["key"]) if row["key"].count("|") == 5 else row["key"]
        out.setdefault(k, set()).add(intent_id_for((row["key"],)))
    for d in t.decisions:
        for key in json.loads(d.get("fill_keys") or "[]"):
            if key.count("|") == 5:
                out.setdefault(norm_key(key), set()).add(d["intent_id"])
    return out


def verdicts(t: Tables, since_ns: int = 0, until_ns: int | None = None) -> dict:
    """Normalised key -> verdict for every source fill scheduled in [since, until]."""
    accepted = accepted_ids(t.posts)
    bot = {norm_key(r["key"]): r for r in t.fills if r["key"].count("|") == 5}
    covering = intents_by_fill(t)
    decided: dict = {}
    for d in t.decisions:
        decided.setdefault(d["intent_id"], []).append(d)
    intents = {r["intent_id"]: r for r in t.intents}
    order_of = {r["intent_id"]: r for r in t.orders}
    out = {}
    for rec in t.source:
        sched = rec["sched_mono_ns"]
        if sched < since_ns or (until_ns is not None and sched > until_ns):
            continue
        k = norm_key(rec["fill_key"])
        out[k] = _verdict(bot.get(k), covering.get(k, set()), decided, intents, order_of, accepted, t.outcomes)
    return out


def _verdict(row, ids: set, decided: dict, intents: dict, order_of: dict, accepted: Counter, logged: dict) -> str:
    if row is None:
        return "lost:not_detected"
    if row["status"] == "stale":
        return "stale_at_restart"
    if any(order_of.get(i, {}).get("order_id") in accepted for i in ids):
        return "copied"
    for i in ids:  # a standing policy refusal of the intent covering it
        for d in decided.get(i, []):
            if d["decision"] in ("rejected", "dropped") and d["reason"] in POLICY_REASONS:
                return f"policy:{d['reason']}"
    if row["status"] == "unconfirmed":
        return "lost:unconfirmed_repeat"  # a genuine identical fill the backstop never corroborated
    for i in ids:
        if i in order_of:
            o = order_of[i]
            return f"lost:order_{o['state']}" + (f":{o['reason']}" if o.get("reason") else "")
        if i in intents:
            r = intents[i]
            return f"lost:intent_{r['state']}" + (f":{r['reason']}" if r.get("reason") else "")
    for i in ids:  # refused before the executor recorded the intent (kill switch, heartbeats, recovering)
        if i in logged:
            return f"lost:executor_{logged[i]}"
    for i in ids:
        for d in decided.get(i, []):
            return f"lost:risk_{d['decision']}:{d['reason']}"  # approved, never reached the executor
    return f"lost:after_intake_{row['status']}"  # stored, never reached risk's ledger


def copy_figures(t: Tables, since_ns: int = 0, until_ns: int | None = None) -> dict:
    v = verdicts(t, since_ns, until_ns)
    size = {norm_key(r["fill_key"]): Decimal(str(r["size"])) for r in t.source}
    eligible = [k for k, x in v.items() if x == "copied" or x.startswith("lost:")]
    copied = [k for k in eligible if v[k] == "copied"]
    eligible_shares = sum((size[k] for k in eligible), Decimal(0))
    copied_shares = sum((size[k] for k in copied), Decimal(0))
    return {
        "source_fills": len(v), "eligible": len(eligible), "copied": len(copied),
        "copied_pct_by_fill": _pct(len(copied), len(eligible)),
        "eligible_shares": str(eligible_shares), "copied_shares": str(copied_shares),
        "copied_pct_by_size": _pct(copied_shares, eligible_shares),
        "stale_at_restart": sum(1 for x in v.values() if x == "stale_at_restart"),
        "policy": dict(Counter(x.split(":", 1)[1] for x in v.values() if x.startswith("policy:"))),
        "lost": dict(Counter(x.split(":", 1)[1] for x in v.values() if x.startswith("lost:"))),
        "lost_fills": {k: x for k, x in sorted(v.items()) if x.startswith("lost:")},
        "repeats_withheld": withheld(t),
    }


def withheld(t: Tables) -> dict:
    """Repeats only RTDS reported, still unconfirmed at the end: `phantom` ones polysim never made
    (a frame delivered twice: rightly never copied) and `genuine` ones (an identical fill the
    backstop never corroborated: lost)."""
    source = {norm_key(r["fill_key"]) for r in t.source}
    keys = [norm_key(r["key"]) for r in t.fills if r["status"] == "unconfirmed" and r["key"].count("|") == 5]
    return {"phantom": sum(1 for k in keys if k not in source), "genuine": sum(1 for k in keys if k in source)}


def duplicates(t: Tables) -> dict:
    accepted = accepted_ids(t.posts)
    order_of = {r["intent_id"]: r["order_id"] for r in t.orders}
    journaled = set(order_of.values())
    source = {norm_key(r["fill_key"]) for r in t.source}
    per_fill, unknown = {}, set()
    for k, ids in intents_by_fill(t).items():
        orders = {order_of[i] for i in ids if order_of.get(i) in accepted}
        if not orders:
            continue
        if k in source:
            per_fill[k] = orders
        else:
            unknown |= orders  # an order for a fill nobody made (a frame counted twice, a hostile row)
    extra = {k: len(o) - 1 for k, o in per_fill.items() if len(o) > 1}
    return {"extra_orders_per_fill": sum(extra.values()), "orders_for_unknown_fills": len(unknown),
            "accepted_orders_not_in_journal": sum(1 for o in accepted if o not in journaled),
            "order_ids_accepted_twice": sum(1 for n in accepted.values() if n > 1),
            "fills_with_extra_orders": sorted(extra)[:20]}


def orders_not_for_fills(t: Tables) -> int:
    """Accepted orders of intents that cover no fill (the reconciler's corrections)."""
    accepted = accepted_ids(t.posts)
    for_fills = set().union(*intents_by_fill(t).values()) if t.fills else set()
    return sum(1 for r in t.orders if r["order_id"] in accepted and r["intent_id"] not in for_fills)


def overfill(t: Tables, ratio: Decimal) -> dict:
    """Our shares per token at polysim against the source's net shares x `ratio` (every source fill:
    above that is overfill), and against the eligible fills' (every fill but those refused by
    policy or stale at a restart: how much of what we should hold we hold)."""
    v = verdicts(t)
    target: dict = {}
    eligible = Decimal(0)
    for r in t.source:
        shares = (1 if r["side"].upper() == "BUY" else -1) * Decimal(str(r["size"])) * ratio
        target[r["token_id"]] = target.get(r["token_id"], Decimal(0)) + shares
        if v[norm_key(r["fill_key"])] == "copied" or v[norm_key(r["fill_key"])].startswith("lost:"):
            eligible += shares
    over = {}
    for token, held in t.holdings.items():
        excess = Decimal(str(held)) - max(target.get(token, Decimal(0)), Decimal(0))
        if excess > EPS:
            over[token] = str(excess)
    held = sum((Decimal(str(h)) for h in t.holdings.values()), Decimal(0))
    want = sum((max(x, Decimal(0)) for x in target.values()), Decimal(0))
    return {"overfill_shares": str(sum((Decimal(x) for x in over.values()), Decimal(0))), "tokens_over": over,
            "held_shares": str(held), "target_shares": str(want), "eligible_target_shares": str(eligible),
            "held_pct_of_eligible_target": _pct(held, eligible)}


def _pct(a, b) -> float | None:
    return round(100 * float(a) / float(b), 2) if b else None


class ResettingCounter:
    """A counter sampled from processes that restart (and so count from 0 again): the total is
    what each life reached, as last sampled (a lower bound: what a process counted after its
    last sample and before it died is not seen)."""

    def __init__(self):
        self.done = 0
        self.last = 0

    def sample(self, value: int) -> None:
        if value < self.last:
            self.done += self.last
        self.last = value

    def end_of_life(self) -> None:
        """The process is known to be gone (the whole tree was killed)."""
        self.done += self.last
        self.last = 0

    @property
    def total(self) -> int:
        return self.done + self.last
