"""Rules of the house, checked on the source tree (polysim, a product of its own, excepted): one
module imports the venue's SDK; actors read no environment (the composition root, bootstrap.py,
hands them secrets and clients); a market's end is computed in one function; a long module says
why it is long."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "polycopy"
PRODUCTION = sorted(p for p in ROOT.rglob("*.py") if "sim" not in p.relative_to(ROOT).parts)
TEXT = {str(p.relative_to(ROOT)): p.read_text() for p in PRODUCTION}
LONG = 250


def test_the_sdk_is_imported_in_the_venue_edge_only():
    sdk = re.compile(r"^\s*(?:from|import)\s+polymarket\b", re.M)
    assert [f for f, t in TEXT.items() if sdk.search(t)] == ["venue/sdk.py"]  # orders (clob.py) and redemption take it from there


def test_no_actor_reads_the_environment_or_a_dotenv_file():
    env = re.compile(r"os\.environ|os\.getenv|dotenv|process_secrets|load_secrets")
    readers = [f for f, t in TEXT.items() if f.startswith("actors/") and env.search(t)]
    assert readers == ["actors/system.py"]  # it sets Thespian's own variables for the actor system, reads none
    assert not re.search(r"os\.environ\[[^\]]+\](?!\s*=)|os\.environ\.get|getenv", TEXT["actors/system.py"])


def test_a_markets_end_is_computed_in_one_function():
    assert [f for f, t in TEXT.items() if re.search(r"\bend_ts_from_slug\(", t)] == ["policy/markets.py"]
    assert [f for f, t in TEXT.items() if re.search(r"\bmarket_end\(", t)] == ["actors/catalog.py", "policy/markets.py"]


def test_a_module_over_250_lines_says_why_at_its_top():
    long = {f: t for f, t in TEXT.items() if t.count("\n") > LONG}
    unexplained = [f for f, t in long.items() if "Long because" not in t.split('"""')[1]]
    assert unexplained == [], f"over {LONG} lines without 'Long because ...' in the module docstring"
