"""--healthcheck against polysim (plus a geoblock app): passes, and names each broken case."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import requests
from aiohttp import web

from polycopy.config import load_secrets
from polycopy.ops.health import CLOSE_ONLY, healthcheck, preflight, run_checks
from polycopy.sim.geoblock import Geoblock
from polycopy.sim.server import Polysim
from tests.conftest import make_config
from tests.sim.simkit import small_scenario

pytestmark = pytest.mark.integration
HARDHAT0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # funded in the scenario
HARDHAT1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # not funded


class GeoServer:
    """polycopy.sim.geoblock on its own loopback port (polysim does not mount it yet)."""

    def __init__(self):
        self.geo = Geoblock()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def main():
            self.runner = web.AppRunner(self.geo.app())
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
            ready.set()

        self.thread = threading.Thread(target=lambda: (self.loop.run_until_complete(main()), self.loop.run_forever()),
                                       daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def close(self):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def sim():
    with Polysim(small_scenario()) as s:
        yield s


@pytest.fixture(scope="module")
def geo():
    g = GeoServer()
    yield g
    g.close()


@pytest.fixture
def cfg_for(tmp_path, sim, geo):
    requests.post(geo.url + "/geoblock", json={"blocked": False, "country": "IE"}, timeout=5).raise_for_status()
    e = sim.endpoints

    def make(mode="dry_run", **venue):
        v = {"clob_url": e["clob"], "rtds_url": e["rtds"], "data_api_url": e["data_api"], "gamma_url": e["gamma"],
             "clob_ws_market_url": e["clob_ws_market"], "clob_ws_user_url": e["clob_ws_user"],
             "geoblock_url": geo.url + "/api/geoblock", "relayer_url": e["relayer"], "polygon_rpc_url": e["polygon_rpc"],
             **venue}
        return make_config(tmp_path, venue=v, execution={"mode": mode})

    return make


def secrets(**env):
    return load_secrets({f"POLYCOPY_{k.upper()}": v for k, v in env.items()})


def failed(results):
    return [line for ok, line in results if ok is False]


def test_dry_run_passes(cfg_for, capsys):
    assert healthcheck(cfg_for(), secrets()) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "ok   CLOB order version 2" in out and "geoblock: this host may trade, IE-L" in out


def test_live_with_a_funded_key_passes_including_funds(cfg_for):
    results = run_checks(cfg_for("live"), secrets(private_key=HARDHAT0))
    assert failed(results) == []
    assert any(line.startswith("funds: 500.00 pUSD, allowances set for 3 exchanges") for _, line in results)


def test_live_without_a_key(cfg_for, capsys):
    assert healthcheck(cfg_for("live"), secrets()) == 1
    out = capsys.readouterr().out
    assert "FAIL live mode needs POLYCOPY_PRIVATE_KEY in the environment" in out


def test_live_with_an_unfunded_wallet(cfg_for):
    lines = failed(run_checks(cfg_for("live"), secrets(private_key=HARDHAT1)))
    assert len(lines) == 1 and lines[0].startswith("funds: pUSD balance 0.00 is below one maximal order")


def test_wrong_funder_for_the_signature_type(cfg_for):
    lines = failed(run_checks(cfg_for("live"), secrets(private_key=HARDHAT0, signature_type="1",
                                                       funder="0x" + "11" * 20)))
    assert len(lines) == 1 and lines[0].startswith("wallet: signature type 1 (POLY_PROXY): POLYCOPY_FUNDER is not")


def test_skewed_clock(cfg_for, sim):
    sim.venue.clock = lambda: time.time() + 30
    try:
        lines = failed(run_checks(cfg_for(), secrets()))
    finally:
        sim.venue.clock = time.time
    assert len(lines) == 1 and lines[0].startswith("clock skewed by -")
    assert 29 <= float(lines[0].split()[3]) * -1 <= 31  # /time has whole seconds


def geo_answer(geo, **answer):
    requests.post(geo.url + "/geoblock", json=answer, timeout=5).raise_for_status()


def test_a_tier_one_host_fails_live_naming_the_place_and_warns_otherwise(cfg_for, geo, capsys):
    geo_answer(geo, blocked=True, country="IR", region="23")
    lines = failed(run_checks(cfg_for("live"), secrets(private_key=HARDHAT0)))
    assert len(lines) == 1 and lines[0].startswith("geoblock: IR is blocked completely, IR-23 (127.0.0.1), tier 1")
    assert preflight(cfg_for("live"), secrets(private_key=HARDHAT0)) == (lines, "")
    assert healthcheck(cfg_for("paper"), secrets()) == 0
    assert "warn geoblock: IR is blocked completely" in capsys.readouterr().out


def test_a_tier_two_host_starts_close_only_and_a_tier_three_one_warns(cfg_for, geo):
    geo_answer(geo, blocked=True, country="US", region="NY")
    failures, close_only = preflight(cfg_for("live"), secrets(private_key=HARDHAT0))
    assert (failures, close_only) == ([], "region_close_only")
    assert [line for ok, line in run_checks(cfg_for("live"), secrets(private_key=HARDHAT0)) if ok == CLOSE_ONLY] == [
        "geoblock: US may only close positions, US-NY (127.0.0.1), tier 2 (table of 2026-12-07): the bot starts "
        "close-only"]
    geo_answer(geo, blocked=True, country="NL", region="NH")  # the API trades there; the endpoint says blocked
    assert preflight(cfg_for("live"), secrets(private_key=HARDHAT0)) == ([], "")
    assert any(ok is None and "NL-NH" in line for ok, line in run_checks(cfg_for("live"), secrets(private_key=HARDHAT0)))


def test_unreachable_endpoints(cfg_for):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    lines = failed(run_checks(cfg_for(data_api_url=f"http://127.0.0.1:{dead}", rtds_url=f"ws://127.0.0.1:{dead}"),
                              secrets()))
    assert lines == [f"Data API unreachable at http://127.0.0.1:{dead}: connection refused",
                     f"RTDS unreachable at ws://127.0.0.1:{dead}: Connection refused"]


def test_unreachable_clob_is_one_line_not_three(cfg_for):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    lines, _ = preflight(cfg_for(clob_url=f"http://127.0.0.1:{dead}"), secrets())
    assert lines == [f"CLOB unreachable at http://127.0.0.1:{dead}: connection refused"]


def test_geoblock_route_rejects_bad_updates(geo):
    r = requests.post(geo.url + "/geoblock", json={"blocked": "yes"}, timeout=5)
    assert r.status_code == 400 and "error" in r.json()


def test_a_data_api_or_gamma_without_the_current_routes_fails(cfg_for, sim):
    e = sim.endpoints  # each pointed at the other service: no /v2/trades there, no /markets/keyset here
    lines = failed(run_checks(cfg_for(data_api_url=e["gamma"], gamma_url=e["data_api"]), secrets()))
    assert lines == [f"Data API at {e['gamma']} answered 404 on /v2/trades",
                     f"Gamma at {e['data_api']} answered 404 on /markets/keyset"]


def test_redemption_needs_a_relayer_key_and_a_deployed_wallet_for_a_gasless_wallet(cfg_for, sim):
    from polycopy.sim.venue.wallets import wallets_of

    from eth_utils import to_checksum_address

    proxy = to_checksum_address(sorted(wallets_of("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", 1))[0])
    proxy_env = dict(private_key=HARDHAT0, signature_type="1", funder=proxy)

    def redeem_lines(results):
        return [(ok, line) for ok, line in results if line.startswith(("redemption", "relayer"))]

    (ok, line), = redeem_lines(run_checks(cfg_for("live"), secrets(**proxy_env)))
    assert ok is False and "needs POLYCOPY_RELAYER_API_KEY and POLYCOPY_RELAYER_API_KEY_ADDRESS" in line
    keyed = secrets(**proxy_env, relayer_api_key="k" * 20, relayer_api_key_address="0x" + "22" * 20)
    (ok, line), = redeem_lines(run_checks(cfg_for("live"), keyed))
    assert ok is False and line.startswith(f"relayer: wallet {proxy} is not deployed (PROXY)")
    requests.post(sim.endpoints["control"] + "/accounts", json={"address": proxy, "pusd": "50"},
                  timeout=5).raise_for_status()
    (ok, line), = redeem_lines(run_checks(cfg_for("live"), keyed))
    assert ok is True and line == f"redemption: relayer key present, wallet {proxy} deployed (PROXY)"


def test_redemption_off_is_a_warning_and_an_eoa_needs_the_json_rpc(cfg_for, tmp_path):
    from polycopy.config import Config

    results = run_checks(cfg_for("live"), secrets(private_key=HARDHAT0))
    assert [ok for ok, line in results if line.startswith("Polygon JSON-RPC (EOA redemption")] == [True]
    off = cfg_for("live").model_copy(update={"redeem": Config().redeem.model_copy(update={"enabled": False})})
    assert [ok for ok, line in run_checks(off, secrets(private_key=HARDHAT0))
            if line.startswith("redemption off")] == [None]
