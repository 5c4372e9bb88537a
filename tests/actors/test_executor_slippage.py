"""The executor prices with the one price limit (policy/limits.py) and journals what a slippage
refusal would have needed (the fake venue and helpers of test_executor)."""
from decimal import Decimal as D

from polycopy.messages import OrderOutcome, ReloadConfig
from polycopy.policy.limits import parse_refusal
from polycopy.store import journal
from tests.actors.test_executor import FACTS, approved, live


def reload(h, **execution):
    cfg = h.actor.config
    h.deliver(ReloadConfig(config=cfg.model_copy(update={"execution": cfg.execution.model_copy(update=execution)})))


def test_a_slippage_refusal_keeps_the_price_it_needed(tmp_path):
    h, rest = live(tmp_path)
    h.deliver(FACTS)
    reload(h, max_slippage_bps=120, max_slippage_ticks=0)
    h.deliver(approved(iid="i1", price="0.51"))  # 120 bps of 0.51 < a tick: the limit is 0.51, the best ask 0.52
    (out,) = h.sent_to("risk", OrderOutcome)
    assert (out.status, out.reason) == ("not_sent", "beyond_slippage")  # the code, for counters and alerts
    row = journal.load_intent(h.actor.db, "i1")
    assert row["reason"] == "beyond_slippage: needed 0.52, limit 0.51"
    assert parse_refusal(row["reason"]) == ("beyond_slippage", D("0.52"))
    assert rest.posts == []


def test_one_tick_of_slippage_copies_the_same_intent(tmp_path):
    h, rest = live(tmp_path)
    h.deliver(FACTS)
    reload(h, max_slippage_bps=120, max_slippage_ticks=1)
    h.deliver(approved(iid="i1", price="0.51"))
    (out,) = h.sent_to("risk", OrderOutcome)
    assert out.status == "filled" and len(rest.posts) == 1
    assert journal.order_for_intent(h.actor.db, "i1")["price"] == D("0.52")  # the limit: the book within it is thin


def test_a_buy_never_pays_more_than_max_buy_price(tmp_path):
    h, rest = live(tmp_path)
    h.deliver(FACTS)
    reload(h, max_slippage_ticks=5, max_buy_price=D("0.515"))
    h.deliver(approved(iid="i1", price="0.51"))
    assert h.sent_to("risk", OrderOutcome)[-1].reason == "beyond_slippage"
    assert journal.load_intent(h.actor.db, "i1")["reason"] == "beyond_slippage: needed 0.52, limit 0.51"
