"""Execution against polysim's CLOB venue (polycopy.sim.venue) on 127.0.0.1, signed with the
official SDK: three market kinds, local rejections, timeouts, and crash/restart at three points.

A "crash" throws the Placer instance away at the chosen point and builds a new one on the same
SQLite file (what a restarted executor does); the venue keeps running meanwhile.
"""
import asyncio
import threading
import time
from decimal import Decimal as D

import pytest
from aiohttp import web
from thespian.actors import ActorTypeDispatcher

from polycopy.config.models import ExecutionConfig
from polycopy.messages import ApprovedIntent, CopyIntent, Market
from polycopy.sim.model import SimMarket
from polycopy.sim.venue import Venue, build_clob_app, build_clob_ws_app
from polycopy.store import journal
from polycopy.store.db import open_db
from polycopy.venue.clob import ClobSigner
from polycopy.venue.placer import Placer
from polycopy.venue.posters import LivePoster
from polycopy.clients.clob_rest import ClobRest
from polycopy.wire.clob import Book
from polycopy.venue.orders import Level
from tests.conftest import ROOT
from tests.integration.test_supervision import free_port

pytestmark = pytest.mark.integration

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
T1 = "7005504798469425412012612933705503190525372485931692359699852318225666004736"  # CTF-like ids
T2 = "909448278114396783571878505665430662117711139470803521219680339596626167810"
N1 = "7005504798469425412012612933705503190525372485931692359699852318225666004737"
N2 = "909448278114396783571878505665430662117711139470803521219680339596626167811"
V1, V2 = "1001", "1002"  # V2 position ids (bits 40-103 zero): market version "v2", domain "3"
MARKETS = {
    "plain": (SimMarket(condition_id="0x" + "ab" * 32, question="q", slug="plain", event_slug="e", tokens=[T1, T2],
                        outcomes=["Up", "Down"], start_ts=0, end_ts=2_000_000_000), T1),
    "negrisk": (SimMarket(condition_id="0x" + "cd" * 32, question="q", slug="nr", event_slug="e", tokens=[N1, N2],
                          outcomes=["Yes", "No"], start_ts=0, end_ts=2_000_000_000, neg_risk=True), N1),
    "v2": (SimMarket(condition_id="0x" + "ef" * 32, question="q", slug="v2", event_slug="e", tokens=[V1, V2],
                     outcomes=["Up", "Down"], start_ts=0, end_ts=2_000_000_000, version="v2"), V1),
}
EXEC = ExecutionConfig(mode="live", max_slippage_bps=300, repost_window_s=10)


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs in this instance."""


class Server:
    def __init__(self, venue):
        self.venue = venue
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners = []
        self.url, self.ws_url = self.run(self._start())

    async def _start(self):
        urls = []
        for app in (build_clob_app(self.venue), build_clob_ws_app(self.venue)):
            runner = web.AppRunner(app, shutdown_timeout=0.5)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.runners.append(runner)
            urls.append(runner.addresses[0][1])
        self.ws_market_url = f"ws://127.0.0.1:{urls[1]}/ws/market"
        return f"http://127.0.0.1:{urls[0]}", f"ws://127.0.0.1:{urls[1]}/ws/user"

    def run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, *args):
        async def go():
            return fn(*args)
        return self.run(go())

    def close(self):
        async def stop():
            for r in self.runners:
                await r.cleanup()
        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def server():
    v = Venue()
    v.settle_delays_s = (0.05, 0.05)
    for m, token in MARKETS.values():
        v.add_market(m)
        v.set_book(token, bids=[(D("0.50"), D("100"))], asks=[(D("0.52"), D("4")), (D("0.53"), D("100"))])
    v.fund(ADDR, D("1000"), {})
    s = Server(v)
    yield s
    s.close()


def facts(kind):
    m, _ = MARKETS[kind]
    return Market(condition_id=m.condition_id, token_ids=tuple(m.tokens), outcomes=tuple(m.outcomes), end_ts=m.end_ts,
                       tick_size=m.tick_size, min_order_size=m.min_order_size, neg_risk=m.neg_risk, version=m.version)


def approved(kind, iid, size="10", price="0.52"):
    m, token = MARKETS[kind]
    it = CopyIntent(intent_id=iid, token_id=token, condition_id=m.condition_id, side="BUY", size=D(size),
                    source_price=D(price), source_size=D(size), fill_keys=(iid,), first_recv_mono_ns=0,
                    market=facts(kind))
    return ApprovedIntent(intent=it, size=D(size), max_notional_usd=D("25"), decision="approved")


def make_placer(server, path, poster_cls=LivePoster, timeout_s=2.0, placer_cls=Placer):
    signer = ClobSigner(KEY)
    rest = ClobRest(server.url, timeout_s=timeout_s)
    rest.creds = rest.create_or_derive_api_key(signer)  # L1 auth against the venue
    rest.address = signer.address
    return placer_cls(open_db(path), poster_cls(rest, rest.creds.key), signer=signer, exec_config=EXEC), rest


def order_posts(server):
    return server.call(lambda: [r for r in server.venue.records if r["path"] == "/order" and r["method"] == "POST"])


def venue_orders(server, token):
    return server.call(lambda: [o for o in server.venue.orders.values() if o.asset_id == token])


@pytest.mark.parametrize("kind", ["plain", "negrisk", "v2"])
def test_orders_accepted_for_each_market_kind(server, tmp_path, kind):
    placer, rest = make_placer(server, tmp_path / "j.sqlite")
    out = placer.place(approved(kind, "i-" + kind), facts(kind), rest.get_book(MARKETS[kind][1]))
    assert out.status == "filled", out
    assert out.filled_size >= D("10")
    (order,) = venue_orders(server, MARKETS[kind][1])
    assert order.id == out.order_id


def test_off_tick_and_below_minimum_never_sent(server, tmp_path):
    placer, rest = make_placer(server, tmp_path / "j.sqlite")
    small = placer.place(approved("plain", "small", size="3"), facts("plain"), rest.get_book(T1))
    assert (small.status, small.reason) == ("not_sent", "below_min_size")
    stale = Book(asks=(Level(D("0.523"), D("50")),), bids=(), tick_size=D("0.01"), min_order_size=D("5"), neg_risk=False)
    off = placer.place(approved("plain", "off", price="0.523"), facts("plain"), stale)
    assert (off.status, off.reason) == ("not_sent", "off_tick")
    assert order_posts(server) == [] and venue_orders(server, T1) == []


def test_timeout_but_accepted_is_not_sent_twice(server, tmp_path):
    server.venue.faults.post_delay_ms = 1500  # accepted at once, answered late
    placer, rest = make_placer(server, tmp_path / "j.sqlite", timeout_s=0.3)
    out = placer.place(approved("plain", "slow"), facts("plain"), rest.get_book(T1))
    assert out.status == "filled"
    assert len(order_posts(server)) == 1 and len(venue_orders(server, T1)) == 1


def test_dropped_response_is_resolved_by_lookup(server, tmp_path):
    server.venue.faults.drop_post_response = True
    placer, rest = make_placer(server, tmp_path / "j.sqlite")
    out = placer.place(approved("plain", "drop"), facts("plain"), rest.get_book(T1))
    assert out.status == "filled"
    assert len(order_posts(server)) == 1 and len(venue_orders(server, T1)) == 1


# ---------------------------------------------------------------- crash and restart


class CrashBeforePost(Placer):
    def _post(self, row, book=None):
        raise Crash()  # journaled with its first send counted (one commit), never sent


class CrashInFlight(LivePoster):
    def post(self, signed, plan, book=None):
        threading.Thread(target=LivePoster.post, args=(self, signed, plan, book), daemon=True).start()
        time.sleep(0.05)  # the request is on the wire (the venue holds its answer)
        raise Crash()


class CrashAfterAccept(LivePoster):
    def post(self, signed, plan, book=None):
        LivePoster.post(self, signed, plan, book)  # the venue accepted; we die before storing the answer
        raise Crash()


def _crash_then_recover(server, path, intent, **kw):
    placer, rest = make_placer(server, path, **kw)
    with pytest.raises(Crash):
        placer.place(intent, facts("plain"), rest.get_book(T1))
    del placer  # the process is gone; a new one starts on the same file
    fresh, _ = make_placer(server, path)
    return fresh, fresh.recover()


def test_crash_after_journal_before_post_gives_one_order(server, tmp_path):
    fresh, outs = _crash_then_recover(server, tmp_path / "j.sqlite", approved("plain", "a"), placer_cls=CrashBeforePost)
    assert [o.status for o in outs] == ["filled"]
    assert len(venue_orders(server, T1)) == 1 and len(order_posts(server)) == 1
    assert not fresh.pending()


def test_crash_after_journal_before_post_stale_gives_none(server, tmp_path):
    path = tmp_path / "j.sqlite"
    placer, rest = make_placer(server, path, placer_cls=CrashBeforePost)
    with pytest.raises(Crash):
        placer.place(approved("plain", "a2"), facts("plain"), rest.get_book(T1))
    fresh, _ = make_placer(server, path)
    fresh.clock = lambda: time.time() + 60  # restarted long after: the order is stale
    (out,) = fresh.recover()  # counted as maybe sent: looked up, absent, too old to send now
    assert (out.status, out.reason) == ("not_sent", "absent_at_venue")
    assert venue_orders(server, T1) == [] and order_posts(server) == []


def test_crash_while_post_in_flight_gives_exactly_one(server, tmp_path):
    server.venue.faults.post_delay_ms = 400
    fresh, outs = _crash_then_recover(server, tmp_path / "j.sqlite", approved("plain", "b"), poster_cls=CrashInFlight)
    assert [o.status for o in outs] == ["filled"]
    assert len(venue_orders(server, T1)) == 1
    time.sleep(0.5)  # let the orphaned request finish: still one order
    assert len(venue_orders(server, T1)) == 1


def test_crash_after_accept_before_store_gives_exactly_one(server, tmp_path):
    fresh, outs = _crash_then_recover(server, tmp_path / "j.sqlite", approved("plain", "c"), poster_cls=CrashAfterAccept)
    assert [o.status for o in outs] == ["filled"]
    assert len(venue_orders(server, T1)) == 1 and len(order_posts(server)) == 1
    row = journal.order_for_intent(fresh.db, "c")
    assert row["state"] == "accepted" and row["posts"] == 1


def test_rate_limit_window_then_same_bytes(server, tmp_path):
    placer, rest = make_placer(server, tmp_path / "j.sqlite")
    server.venue.faults.retry_after_s = 0
    server.venue.faults.rate_limit_until = time.monotonic() + 0.3
    book = Book(asks=(Level(D("0.52"), D("4")), Level(D("0.53"), D("100"))), bids=(), tick_size=D("0.01"),
                min_order_size=D("5"), neg_risk=False)
    assert placer.place(approved("plain", "rl"), facts("plain"), book) is None  # parked
    deadline = time.monotonic() + 5
    outs = []
    while not outs and time.monotonic() < deadline:
        time.sleep(0.05)
        outs = placer.retry_due()
    assert [o.status for o in outs] == ["filled"]
    assert len(venue_orders(server, T1)) == 1


# ---------------------------------------------------------------- the actor, live, with the user stream


def test_live_executor_heartbeats_fills_and_settlement(server, tmp_path):
    import select

    from pydantic import SecretStr
    from thespian.actors import WatchMessage

    from polycopy import bootstrap
    from polycopy.actors.executor import HEARTBEAT, Executor
    from polycopy.config.loader import Secrets
    from polycopy.config.models import Config
    from polycopy.messages import OrderOutcome, StageTiming
    from tests.actors.harness import Harness

    secrets = Secrets(private_key=SecretStr(KEY), funder=None, signature_type=0, api_key=None, api_secret=None,
                      api_passphrase=None)

    class E(Executor):
        def make_ports(self, held):
            return bootstrap.execution_ports(self.config, held, s=secrets)

    cfg = Config.model_validate({"execution": {"mode": "live", "max_slippage_bps": 300},
                                 "venue": {"clob_url": server.url, "clob_ws_user_url": server.ws_url,
                                           "clob_ws_market_url": server.ws_market_url},
                                 "store": {"path": str(tmp_path / "x.sqlite")}})
    h = Harness(E, config=cfg, peers={"risk": "risk", "telemetry": "telemetry"})
    try:
        assert h.actor.heartbeats.ok and h.actor.heartbeats.heartbeat_id  # the first heartbeat was accepted and gave an id
        first = h.actor.heartbeats.heartbeat_id
        h.fire_wakeups(lambda p: p == HEARTBEAT)
        assert h.actor.heartbeats.ok and h.actor.heartbeats.heartbeat_id != first
        fd = h.actor.bridge.fd
        deadline = time.monotonic() + 5
        while not server.call(lambda: bool(server.venue.user_subs)) and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.05)[0]:
                h.deliver(WatchMessage([fd]))
        h.deliver(facts("plain"))
        while h.actor.books.get(T1) is None and time.monotonic() < deadline:
            time.sleep(0.02)  # the market socket delivers the snapshot on its own thread
        assert h.actor.books.get(T1).asks[0] == Level(D("0.52"), D("4"))
        h.deliver(approved("plain", "live-1"))  # posted from the executor's post pool: its answer comes on a pipe
        while not h.sent_to("risk", OrderOutcome) and time.monotonic() < deadline:
            if select.select([h.actor.posts.fd], [], [], 0.05)[0]:
                h.deliver(WatchMessage([h.actor.posts.fd]))
        (out,) = h.sent_to("risk", OrderOutcome)
        assert out.status == "filled"
        stages = dict(h.sent_to("telemetry", StageTiming)[0].stages)
        assert "exec_book" in stages and "exec_book_rest" not in stages  # priced from the websocket book
        settled = None
        while time.monotonic() < deadline + 5 and settled != "CONFIRMED":
            if select.select([fd], [], [], 0.05)[0]:
                h.deliver(WatchMessage([fd]))
            settled = journal.get_order(h.actor.db, out.order_id)["settlement"]
        assert settled == "CONFIRMED"
    finally:
        h.actor.on_exit()


def test_credentials_helper_prints_env_lines(server, capsys, monkeypatch):
    from polycopy.ops import credentials

    monkeypatch.setenv("POLYCOPY_PRIVATE_KEY", KEY)
    monkeypatch.delenv("POLYCOPY_SIGNATURE_TYPE", raising=False)
    monkeypatch.delenv("POLYCOPY_FUNDER", raising=False)
    assert credentials.main(["--env-format", "--clob-url", server.url, "--config", str(ROOT / "config.yaml")]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    key = server.call(lambda: server.venue.keys.derive(ADDR, 0))
    assert lines["POLYCOPY_API_KEY"] == key.key and lines["POLYCOPY_API_SECRET"] == key.secret
    assert lines["POLYCOPY_FUNDER"] == ADDR and lines["POLYCOPY_SIGNATURE_TYPE"] == "0"
    monkeypatch.setenv("POLYCOPY_PRIVATE_KEY", "0x12")
    assert credentials.main(["--env-format", "--clob-url", server.url, "--config", str(ROOT / "config.yaml")]) == 2
    assert "POLYCOPY_PRIVATE_KEY" in capsys.readouterr().err


# ---------------------------------------------------------------- in a real multiprocess actor system


class OutcomeCollector(ActorTypeDispatcher):
    """Stands in for risk: records OrderOutcomes; answers any str with the list."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.outcomes = []

    def receiveMsg_OrderOutcome(self, msg, sender):
        self.outcomes.append(msg)

    def receiveMsg_str(self, msg, sender):
        self.send(sender, list(self.outcomes))


def test_executor_in_a_real_actor_system(server, tmp_path, monkeypatch):
    from thespian.actors import ActorSystem

    from polycopy.actors.executor import Executor
    from polycopy.config.models import Config
    from polycopy.messages import Init

    monkeypatch.setenv("POLYCOPY_PRIVATE_KEY", KEY)
    monkeypatch.delenv("POLYCOPY_SIGNATURE_TYPE", raising=False)
    monkeypatch.delenv("POLYCOPY_FUNDER", raising=False)
    for name in ("POLYCOPY_API_KEY", "POLYCOPY_API_SECRET", "POLYCOPY_API_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    db_path = tmp_path / "x.sqlite"
    cfg = Config.model_validate({"execution": {"mode": "live", "max_slippage_bps": 300},
                                 "venue": {"clob_url": server.url, "clob_ws_user_url": server.ws_url,
                                           "clob_ws_market_url": server.ws_market_url},
                                 "store": {"path": str(db_path)}})
    asys = ActorSystem("multiprocTCPBase", {"Admin Port": free_port()}, transientUnique=True)
    try:
        collector = asys.createActor(OutcomeCollector)
        executor = asys.createActor(Executor)
        asys.tell(executor, Init(config=cfg, peers={"risk": collector}))
        asys.tell(executor, facts("plain"))
        asys.tell(executor, approved("plain", "mp-1"))
        deadline, outs = time.monotonic() + 15, []
        while not outs and time.monotonic() < deadline:
            outs = asys.ask(collector, "get", 1.0) or []
            time.sleep(0.05)
        assert [(o.intent_id, o.status) for o in outs] == [("mp-1", "filled")]
        db = open_db(db_path)
        settled = ""
        while settled != "CONFIRMED" and time.monotonic() < deadline:
            time.sleep(0.05)
            settled = journal.get_order(db, outs[0].order_id)["settlement"]
        assert settled == "CONFIRMED"  # via the user websocket, bridged into the actor
        assert len(venue_orders(server, T1)) == 1
    finally:
        asys.shutdown()


def test_pool_keeps_one_connection_with_nodelay(server):
    import socket

    rest = ClobRest(server.url)
    try:
        for _ in range(3):
            rest.get_book(T1)
        pm = rest.pool
        pools = [pm.pools[k] for k in pm.pools.keys()]
        conns = [c for p in pools for c in list(p.pool.queue) if c is not None and c.sock is not None]
        assert len(conns) == 1  # kept alive and reused
        assert conns[0].sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        rest.close()


def test_same_bytes_twice_is_one_order(server, tmp_path):
    # the race in a crash during the POST: recovery re-sends while the first request still arrives
    placer, rest = make_placer(server, tmp_path / "j.sqlite")
    out = placer.place(approved("plain", "twice"), facts("plain"), rest.get_book(T1))
    again = placer.send(out.order_id)  # the venue answers "Duplicated"; we look it up instead
    assert (again.status, again.order_id) == ("filled", out.order_id)
    assert len(order_posts(server)) == 2 and len(venue_orders(server, T1)) == 1


@pytest.mark.parametrize("sig_type", [1, 2, 3])
def test_wallet_signature_types_accepted(server, tmp_path, sig_type):
    signer = ClobSigner(KEY, signature_type=sig_type)  # funder derived from the key
    server.call(server.venue.fund, signer.maker, D("100"), {})
    rest = ClobRest(server.url)
    rest.creds, rest.address = rest.create_or_derive_api_key(signer), signer.address
    placer = Placer(open_db(tmp_path / "j.sqlite"), LivePoster(rest, rest.creds.key), signer=signer, exec_config=EXEC)
    out = placer.place(approved("negrisk", f"w{sig_type}"), facts("negrisk"), rest.get_book(N1))
    assert out.status == "filled", out
    (order,) = venue_orders(server, N1)
    assert order.signed.maker == signer.maker and order.signed.signature_type == sig_type


def test_sell_is_accepted(server, tmp_path):
    server.call(server.venue.fund, ADDR, D("0"), {T1: D("50")})
    placer, rest = make_placer(server, tmp_path / "j.sqlite")
    m, _ = MARKETS["plain"]
    it = CopyIntent(intent_id="sell-1", token_id=T1, condition_id=m.condition_id, side="SELL", size=D("10.567"),
                    source_price=D("0.505"), source_size=D("10.567"), fill_keys=("s",), first_recv_mono_ns=0)
    out = placer.place(ApprovedIntent(intent=it, size=D("10.567"), max_notional_usd=D("0"), decision="approved"),
                       facts("plain"), rest.get_book(T1))
    assert (out.status, out.filled_size, out.filled_notional_usd) == ("filled", D("10.56"), D("5.28"))
