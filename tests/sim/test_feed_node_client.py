"""The official node RTDS client (@polymarket/real-time-data-client) receives a source trade."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from polycopy.sim.server import Polysim
from tests.sim.simkit import SOURCE, inject, small_scenario, wait_for

NODE_DIR = Path(__file__).parent / "node"
pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def node_client():
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.fail("node and npm are required for this test")
    if not (NODE_DIR / "node_modules" / "@polymarket" / "real-time-data-client").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True,
                       capture_output=True, timeout=180)
    return NODE_DIR / "first_trade.js"


def test_official_client_receives_a_scripted_source_trade(node_client):
    with Polysim(small_scenario()) as sim:
        proc = subprocess.Popen(["node", str(node_client), sim.endpoints["rtds"], SOURCE,
                                 "20000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            assert proc.stdout.readline().strip() == "SUBSCRIBED"
            wait_for(lambda: any(c.subs for c in list(sim.rtds.conns)), 10)
            record = inject(sim, size="2.7027", price="0.26")[0]
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
        line = next(x for x in out.splitlines() if x.startswith("TRADE "))
        trade = json.loads(line[len("TRADE "):])
        p = trade["payload"]
        assert trade["type"] in ("trades", "orders_matched") and trade["connection_id"]
        assert p["proxyWallet"].lower() == SOURCE and p["proxyWallet"] != SOURCE
        assert p["asset"] == record["token_id"] and p["transactionHash"] == record["tx_hash"]
        assert p["size"] == 2.7027 and p["price"] == 0.26 and p["side"] == "BUY"
