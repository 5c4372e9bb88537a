"""The pUSD balance risk judges BUYs by (policy/balance.py): never more than the venue has free,
whatever the order of reads, approvals, venue debits and outcomes."""
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from hypothesis import strategies as st

from polycopy.policy.balance import BalanceBook
from polycopy.wire.balance import parse_balance_allowance


def test_reads_reservations_and_fills():
    b = BalanceBook(fee_reserve_bps=1000)  # a BUY needs notional x 1.1
    assert b.available() is None and b.room() is None  # nothing read yet: risk does not judge
    b.seen(D("100"), asked_ns=10)
    b.reserve("i1", D("50"))
    assert b.available() == D("45")  # 100 - 55
    assert b.room() == D("45") / D("1.1")
    b.settle("i1", "unknown", D(0), now_ns=20)
    assert b.available() == D("45")  # an unknown outcome keeps its reservation
    b.settle("i1", "filled", D("40"), now_ns=30)
    assert b.available() == D("56")  # 100 - 44 spent after the read
    assert not b.seen(D("999"), asked_ns=5)  # an older read than the one held is ignored
    b.seen(D("56"), asked_ns=31)  # a read asked after the fill settled already counts it
    assert b.available() == D("56")
    b.settle("i1", "filled", D("40"), now_ns=40)  # a redelivered outcome changes nothing
    assert b.available() == D("56")


def test_a_reply_overtaken_by_a_newer_one_is_ignored():
    """Read 1 is served before a fill, read 2 after it; 2 reaches risk first and drops the fill from
    the spent list; taking 1 after it would bring the pre-fill balance back."""
    b = BalanceBook()
    b.seen(D("100"), asked_ns=1)
    b.reserve("i", D("40"))
    # read 1 asked at 2 and served (100); the fill (40) lands; the outcome settles at 4; read 2 asked at 5
    b.settle("i", "filled", D("40"), now_ns=4)
    assert b.seen(D("60"), asked_ns=5) and b.available() == D("60")
    assert not b.seen(D("100"), asked_ns=2)
    assert b.available() == D("60")


def test_the_allowance_caps_what_may_be_spent():
    b = BalanceBook()
    b.seen(D("100"), asked_ns=1, allowance=D("30"))
    assert b.available() == D("30")


def test_a_rejection_frees_its_reservation():
    b = BalanceBook()
    b.seen(D("10"), asked_ns=1)
    b.reserve("i", D("8"))
    b.settle("i", "rejected", D(0), now_ns=2)
    assert b.available() == D("10")


class VenueModel(RuleBasedStateMachine):
    """A model venue against the book, in any interleaving: an approved BUY is debited at the venue
    some time later (a fill of at most its cost), its outcome reaches risk later still; a balance
    read is asked, served with the venue's balance at serving time, and reaches risk later still
    (replies may overtake each other). After every step, what the book calls available is at most
    the venue's balance minus what approved, not yet debited BUYs will still take."""

    def __init__(self):
        super().__init__()
        self.book = BalanceBook()
        self.venue = D(100)
        self.t = 0
        self.n = 0
        self.open: dict[str, D] = {}  # approved, not debited: cost
        self.debited: dict[str, D] = {}  # debited, outcome not reported: fill
        self.asked: list[int] = []
        self.served: list[tuple] = []

    def tick(self) -> int:
        self.t += 1
        return self.t

    @rule(cost=st.integers(min_value=1, max_value=60))
    def approve(self, cost):
        room = self.book.room()
        if room is not None and D(cost) <= room:  # risk approves only what the book covers
            self.n += 1
            self.open[str(self.n)] = D(cost)
            self.book.reserve(str(self.n), D(cost))

    @precondition(lambda self: self.open)
    @rule(data=st.data(), share=st.integers(min_value=0, max_value=100))
    def debit(self, data, share):
        i = data.draw(st.sampled_from(sorted(self.open)))
        fill = self.open.pop(i) * share / 100
        self.venue -= fill
        self.debited[i] = fill
        self.tick()

    @precondition(lambda self: self.debited)
    @rule(data=st.data())
    def outcome(self, data):
        i = data.draw(st.sampled_from(sorted(self.debited)))
        fill = self.debited.pop(i)
        self.book.settle(i, "filled" if fill else "rejected", fill, now_ns=self.tick())

    @precondition(lambda self: self.open)
    @rule(data=st.data())
    def reject(self, data):
        i = data.draw(st.sampled_from(sorted(self.open)))
        del self.open[i]
        self.book.settle(i, "rejected", D(0), now_ns=self.tick())

    @rule()
    def ask(self):
        self.asked.append(self.tick())

    @precondition(lambda self: self.asked)
    @rule()
    def serve(self):
        self.served.append((self.asked.pop(0), self.venue))
        self.tick()

    @precondition(lambda self: self.served)
    @rule(data=st.data())
    def deliver(self, data):
        at, balance = self.served.pop(data.draw(st.integers(min_value=0, max_value=len(self.served) - 1)))
        self.book.seen(balance, asked_ns=at)

    @invariant()
    def never_more_than_free(self):
        avail = self.book.available()
        assert avail is None or avail <= self.venue - sum(self.open.values(), D(0))


VenueModel.TestCase.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)
test_no_interleaving_shows_more_than_the_venue_has_free = VenueModel.TestCase


@given(st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8), st.none(), st.floats()),
                       max_size=4))
def test_the_balance_answer_parser_is_total(body):
    from polycopy.errors import Malformed

    for data in (body, {"balance": body.get("balance", "1"), "allowances": body}):
        try:
            parse_balance_allowance(data)
        except Malformed:
            pass


def test_the_balance_answer_as_the_sdk_reads_it():
    ba = parse_balance_allowance({"balance": "15000000", "allowances": {"0xa": "2" + "0" * 70, "0xb": 7_000_000}})
    assert ba.balance_usd == D("15") and ba.allowance_usd == D("7")
