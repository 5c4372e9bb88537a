"""Detection end to end: both watchers (real I/O threads) -> Intake -> the coalescers' inboxes.

The feed scenarios (a burst on both feeds, RTDS stalled, RTDS dropped mid-burst, Data API
429s, an Intake restart mid-burst, three identical fills in one tx) run against polysim; two
more run against the scripted fakes in detection_fakes.py, where the test controls every frame
(both RTDS types, two Intake restarts). Actors are driven with the Harness; the rig plays the
actor system. One test runs RtdsWatcher inside a real multiprocTCPBase system.
"""
import select
import time
from collections import Counter
from decimal import Decimal

import pytest
from thespian.actors import ActorAddress, WatchMessage

from polycopy.actors.backstop_watcher import BackstopWatcher
from polycopy.actors.intake import Intake
from polycopy.actors.rtds_watcher import RtdsWatcher
from polycopy.config.loader import parse_config
from polycopy.messages import EnsureCoalescer, FillBatch, Market, NeedMarketFacts, Peers
from tests.actors.harness import Harness
from tests.integration.detection_fakes import FakeDataApi, FakeRtds
from tests.integration.test_supervision import free_port

pytestmark = pytest.mark.integration

DETECTION = {"rtds_ping_interval_s": 0.1, "rtds_silence_limit_s": 0.4, "reconnect_min_ms": 20, "reconnect_max_ms": 100,
             "circuit_breaker_failures": 5, "circuit_breaker_cooldown_s": 1.0, "http_poll_interval_ms": 60,
             "http_timeout_ms": 1000}


class Rig:
    """Plays the actor system for two watchers and Intake; answers EnsureCoalescer like the
    supervisor (a Peers update with a made-up coalescer address) and NeedMarketFacts like the
    catalog (a market for the token)."""

    def __init__(self, rtds_url, api_url, db_path):
        self.cfg = parse_config({
            "venue": {"rtds_url": rtds_url, "data_api_url": api_url}, "store": {"path": str(db_path)},
            "copy": {"source_wallet": "0x1d0034134e339a309700ff2d34e99fa2d48b0313"}, "detection": DETECTION})
        self.restarts = 0
        self.intake_down = False
        self.coalescers: dict = {"catalog": ActorAddress("catalog")}  # role -> address, as the supervisor passes them
        self.routed: list = []  # every fill Intake routed, over every Intake instance
        peers = {"intake": "intake"}
        self.watchers = [Harness(RtdsWatcher, config=self.cfg, peers=peers),
                         Harness(BackstopWatcher, config=self.cfg, peers=peers)]
        self.intake = Harness(Intake, config=self.cfg, peers=self.coalescers)

    def pump(self, cond, timeout=8.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._collect()
            if cond():
                return True
            fds = {h.actor.bridge.fd: h for h in self.watchers if h.actor.bridge is not None}
            ready, _, _ = select.select(list(fds), [], [], 0.05)
            for fd in ready:
                fds[fd].deliver(WatchMessage([fd]))
        self._collect()
        return cond()

    def _collect(self):
        for w in self.watchers:
            batches = w.sent(FillBatch)
            w.clear()
            if not self.intake_down:  # while it is down, what was in flight is lost
                for b in batches:
                    self.intake.deliver(b)
        sent, self.intake.ref.sent = self.intake.ref.sent, []
        for _, msg in sent:
            if isinstance(msg, FillBatch):
                self.routed += msg.fills
            elif isinstance(msg, EnsureCoalescer):
                role = f"coalescer:{msg.key}"
                self.coalescers[role] = ActorAddress(role)
                self.intake.deliver(Peers(peers={role: self.coalescers[role]}))
            elif isinstance(msg, NeedMarketFacts):
                self.intake.deliver(Market(condition_id=msg.condition_id, token_ids=(msg.key,), outcomes=("Up",),
                                           end_ts=int(time.time()) + 900, tick_size=Decimal("0.01"),
                                           min_order_size=Decimal(5), neg_risk=False))

    def restart_intake(self):
        """Stop Intake, lose what the watchers send meanwhile, start a new one on the same file."""
        self.intake.actor.on_exit()
        self.intake_down = True
        self.pump(lambda: False, timeout=0.3)
        self.intake = Harness(Intake, config=self.cfg, peers=self.coalescers)
        self.intake_down = False
        self.restarts += 1
        new_address = ActorAddress(f"intake-{self.restarts}")  # a restarted actor has a new address
        for w in self.watchers:
            w.deliver(Peers(peers={"intake": new_address}))

    def keys(self):
        return Counter(f.key for f in self.routed)

    def close(self):
        for h in self.watchers:
            h.actor.on_exit()
        self.intake.actor.on_exit()


@pytest.fixture
def rig(tmp_path):
    with FakeRtds() as rtds, FakeDataApi() as api:
        r = Rig(rtds.url, api.url, tmp_path / "state.sqlite")
        r.rtds, r.api = rtds, api
        assert r.pump(lambda: rtds.connected() == 1)
        yield r
        r.close()


def burst(rig, n, *, start=0):
    """n fills on both feeds: tx i has one fill, except every 4th tx, which has three identical fills."""
    expected = []
    for i in range(start, start + n):
        tx = f"0x{i:06x}"
        token = "11" if i % 2 else "22"
        for c in range(3 if i % 4 == 0 else 1):
            rig.rtds.send_fill(tx, token=token, kind="trades")
            if c == 0:
                rig.rtds.send_fill(tx, token=token, kind="orders_matched")  # the taker row again
            rig.api.add(tx, token=token)
            expected.append(f"{tx}|{token}|BUY|0.5|5|{c}")
    return Counter(expected)


def assert_once(rig, expected):
    assert rig.pump(lambda: rig.keys() == expected), f"missing {expected - rig.keys()}, extra {rig.keys() - expected}"
    rig.pump(lambda: False, timeout=0.2)  # a few more polls (60 ms apart): nothing else may come
    assert rig.keys() == expected


@pytest.mark.parametrize("feeds", ["rtds", "backstop", "both"])
def test_three_identical_fills_from_either_feed_or_both(rig, feeds):
    if feeds in ("rtds", "both"):
        for _ in range(3):
            rig.rtds.send_fill("0xabc", kind="trades")
        rig.rtds.send_fill("0xabc", kind="orders_matched")  # the taker row, once more
    if feeds in ("backstop", "both"):
        for _ in range(3):
            rig.api.add("0xabc")
    if feeds == "rtds":  # repeats RTDS alone reports wait for the backstop (policy/dedupe.py): one copy
        assert_once(rig, Counter({"0xabc|11|BUY|0.5|5|0": 1}))
        assert rig.intake.actor.counters["rtds"].unconfirmed == 2
    else:
        assert_once(rig, Counter({f"0xabc|11|BUY|0.5|5|{i}": 1 for i in range(3)}))
    assert {f.feed for f in rig.routed} <= ({"rtds", "backstop"} if feeds == "both" else {feeds})


def test_intake_restart_mid_burst_routes_nothing_twice_and_loses_nothing(rig):
    first = burst(rig, 8)
    rig.pump(lambda: sum(rig.keys().values()) >= 4)
    rig.restart_intake()
    second = burst(rig, 8, start=8)
    rig.restart_intake()
    assert_once(rig, first + second)


# ---------------------------------------------------------------- a real actor system


def test_rtds_watcher_in_a_real_actor_system(tmp_path):
    from thespian.actors import ActorSystem

    from polycopy.actors.system import log_defs  # importing it pins Thespian to 127.0.0.1
    from polycopy.messages import Init
    from tests.integration.recorder_actor import Collected, Collector, GetCollected

    with FakeRtds() as rtds:
        cfg = parse_config({"venue": {"rtds_url": rtds.url}, "detection": DETECTION,
                            "copy": {"source_wallet": "0x1d0034134e339a309700ff2d34e99fa2d48b0313"}})
        asys = ActorSystem("multiprocTCPBase", {"Admin Port": free_port()}, transientUnique=True, logDefs=log_defs())
        try:
            collector = asys.createActor(Collector)
            watcher = asys.createActor(RtdsWatcher)
            asys.tell(watcher, Init(config=cfg, peers={"intake": collector}))
            deadline = time.monotonic() + 10
            while rtds.connected() < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            for i in range(5):
                rtds.send_fill(f"0x{i:04x}")
            keys = []
            while len(keys) < 5 and time.monotonic() < deadline:
                reply = asys.ask(collector, GetCollected(), 1.0)
                keys = reply.keys if isinstance(reply, Collected) else keys
                time.sleep(0.02)
            assert sorted(k.split("|")[0] for k in keys) == [f"0x{i:04x}" for i in range(5)]
        finally:
            asys.shutdown()


# ---------------------------------------------------------------- against polysim


def sim_scenario(**feeds):
    from polycopy.sim.scenario import parse

    return parse({
        "series": [{"asset": "btc", "title": "Bitcoin"}],
        "feeds": {"rtds_lag_ms": {"orders_matched": 40, "trades": 70}, "data_api_lag_ms": 250, "noise_per_s": 25, **feeds},
        "bursts": [{"at_s": 0.4, "market": "btc", "outcome": "Up", "clusters": 4, "gap_ms": [80, 110],
                    "fills_per_cluster": [2, 4], "identical_share": 0.4, "maker_share": 0.3}],
    })


BURST_END_S = 0.4 + 4 * 0.11 + 0.1


@pytest.fixture
def sim_rig(tmp_path):
    from polycopy.sim.server import Polysim

    with Polysim(sim_scenario()) as sim:
        r = Rig(sim.endpoints["rtds"], sim.endpoints["data_api"], tmp_path / "state.sqlite")
        r.sim = sim
        assert r.pump(lambda: sim.call(lambda: len(sim.rtds.conns)) == 1)
        yield r
        r.close()


def sim_fault(rig, name, value):
    rig.sim.call(setattr, rig.sim.feed_faults, name, value)


def sim_expected(rig, until_s=BURST_END_S) -> Counter:
    """The source fills polysim published, as our keys (polysim numbers identical fills too)."""
    from decimal import Decimal

    from polycopy.wire.source_fill import fill_key

    rig.pump(lambda: rig.sim.clock.t() > until_s, timeout=until_s + 2)
    records = rig.sim.call(lambda: list(rig.sim.feed.records))
    assert records, "polysim published no source fill"
    return Counter(fill_key(r["tx_hash"], r["token_id"], r["side"], Decimal(r["price"]), Decimal(r["size"]),
                            int(r["fill_key"].rsplit(":", 1)[1])) for r in records)


def test_polysim_burst_on_both_feeds_once_per_fill(sim_rig):
    expected = sim_expected(sim_rig)
    assert any(k.endswith("|1") for k in expected)  # the burst had identical fills in one tx
    assert_once(sim_rig, expected)
    assert {f.feed for f in sim_rig.routed} >= {"rtds"}


def test_polysim_rtds_stalled_backstop_alone(sim_rig):
    sim_fault(sim_rig, "rtds_stalled", True)
    expected = sim_expected(sim_rig)
    assert_once(sim_rig, expected)
    assert {f.feed for f in sim_rig.routed} == {"backstop"}
    assert sim_rig.watchers[0].actor.state.reconnects >= 1  # it noticed the silence


def test_polysim_rtds_drops_mid_burst(sim_rig):
    sim_rig.pump(lambda: len(sim_rig.routed) >= 2)
    sim_fault(sim_rig, "rtds_drop_now", True)
    assert_once(sim_rig, sim_expected(sim_rig))
    assert sim_rig.watchers[0].actor.state.reconnects >= 1


def test_polysim_data_api_429_for_a_while(sim_rig):
    sim_fault(sim_rig, "rtds_stalled", True)  # so the backstop has to deliver everything itself
    sim_fault(sim_rig, "data_api_rate_limit_until", time.monotonic() + 0.8)
    assert_once(sim_rig, sim_expected(sim_rig))
    assert sim_rig.watchers[1].actor.state.reconnects >= 1


def test_polysim_intake_restart_mid_burst(sim_rig):
    sim_rig.pump(lambda: len(sim_rig.routed) >= 3)
    sim_rig.restart_intake()
    assert_once(sim_rig, sim_expected(sim_rig))


def test_polysim_three_identical_fills_in_one_tx(sim_rig):
    import requests

    r = requests.post(sim_rig.sim.endpoints["control"] + "/fills", timeout=5,
                      json={"market": "btc", "outcome": "Down", "price": "0.41", "size": "6", "repeat": 3})
    assert r.status_code == 200
    tx = r.json()["records"][0]["tx_hash"]
    expected = sim_expected(sim_rig)
    assert_once(sim_rig, expected)
    assert sorted(k.rsplit("|", 1)[1] for k in sim_rig.keys() if k.startswith(tx)) == ["0", "1", "2"]


def test_polysim_hostile_frames_and_rows_cost_no_good_fill(tmp_path):
    """polysim sends a hostile frame after every good one (each kind in turn) and lists bad rows
    among the source's: every good fill still arrives once, each bad input is counted, no I/O
    thread dies (a death would be a ChildFailed, which the kill switch counts)."""
    from polycopy.messages import ChildFailed
    from polycopy.sim.hostile import FRAME_KINDS, ROW_KINDS
    from polycopy.sim.server import Polysim

    scenario = sim_scenario(rtds_malformed_share=1, rtds_malformed_kinds=list(FRAME_KINDS),
                            data_api_hostile=list(ROW_KINDS))
    with Polysim(scenario) as sim:
        rig = Rig(sim.endpoints["rtds"], sim.endpoints["data_api"], tmp_path / "state.sqlite")
        rig.sim = sim
        try:
            assert rig.pump(lambda: sim.call(lambda: len(sim.rtds.conns)) == 1)
            assert_once(rig, sim_expected(rig))
            rtds, backstop = (w.actor.state for w in rig.watchers)
            sim_fault(rig, "rtds_malformed_share", 0)  # no more; the counts can settle
            sent = sim.call(lambda: dict(sim.feed.hostile_sent))
            # kinds no wallet filter can skip: each counted exactly as often as sent
            exact = {"depth": "deep_nesting", "json": "not_json", "envelope": "null_payload", "number": "huge_number"}
            assert rig.pump(lambda: all(rtds.malformed_kinds[k] == sent.get(v, 0) for k, v in exact.items())), \
                (rtds.malformed_kinds, sent)
            assert all(sent.get(v) for v in exact.values()) and rtds.malformed <= sum(sent.values())
            assert {"size", "timestamp"} <= set(rtds.malformed_kinds)  # the source's own hostile frames
            assert backstop.malformed >= len(ROW_KINDS)
            assert {"timestamp", "size", "price", "row"} <= set(backstop.malformed_kinds)
            assert all(w.sent_to("parent", ChildFailed) == [] and w.actor.bridge.alive() for w in rig.watchers)
            assert rtds.reconnects == 0  # hostile frames never cost the connection
        finally:
            rig.close()
