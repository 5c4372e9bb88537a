"""Rules of the venue edge, checked on the source tree (polysim, a product of its own, excepted):
only Data API v2 and Gamma keyset/single-market routes are named; only clients/ opens
connections; every exception class lives in errors.py; one Malformed, one retry rule, one
Retry-After parser."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "polycopy"
PRODUCTION = sorted(p for p in ROOT.rglob("*.py") if "sim" not in p.relative_to(ROOT).parts)

V1_DATA_API = re.compile(r"(?<!/v2)(?<!/data)/(?:trades|activity|positions|closed-positions)(?![\w/-])")
GAMMA_LISTS = re.compile(r"/(?:markets|events)(?![\w/-])")


def strings(path: Path) -> list[str]:
    """The string constants of a module's code (docstrings and comments are prose, not routes)."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # f"{base}/trades": the literal parts, joined as they read
            out.append("".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            out.append(node.value)
    return out


def test_the_route_check_sees_what_it_should():
    assert V1_DATA_API.search("/trades") and V1_DATA_API.search("{}/activity?user=") and V1_DATA_API.search("/positions")
    assert not V1_DATA_API.search("/v2/trades") and not V1_DATA_API.search("/data/trades")
    assert GAMMA_LISTS.search("/markets") and GAMMA_LISTS.search("/events?slug=") and GAMMA_LISTS.search("{}/markets")
    assert not GAMMA_LISTS.search("/markets/keyset") and not GAMMA_LISTS.search("/markets/slug/")
    assert not GAMMA_LISTS.search("/markets-by-token/")


def test_no_production_module_names_a_v1_data_api_route_or_a_gamma_list_route():
    bad = [(str(p.relative_to(ROOT)), s) for p in PRODUCTION for s in strings(p)
           if not re.search(r"\s", s) and (V1_DATA_API.search(s) or GAMMA_LISTS.search(s))]  # a route has no spaces
    assert bad == []


NETWORK = re.compile(r"^\s*(?:import|from)\s+(websockets|requests|urllib3|httpx|aiohttp|socket|http\.client|"
                     r"urllib\.request|telegram)\b", re.M)
ALLOWED = {
    "actors/system.py": {"socket"},  # probes the local admin port before starting Thespian: not the venue
    "ops/telegram_client.py": {"telegram"},  # the operator's Telegram control, not the venue (could move to clients/)
    "lane/inbox.py": {"socket"},  # the actors' own transport between local processes (unix sockets), not the venue
    "lane/outbox.py": {"socket"},
}


def test_only_clients_open_connections():
    found = {}
    for p in PRODUCTION:
        rel = str(p.relative_to(ROOT))
        mods = set(NETWORK.findall(p.read_text())) - ALLOWED.get(rel, set())
        if mods and not rel.startswith("clients/"):
            found[rel] = sorted(mods)
    assert found == {}


def test_every_exception_class_lives_in_errors_py():
    def is_exception(node: ast.ClassDef) -> bool:
        names = {b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases}
        return any(n.endswith(("Error", "Exception")) or n in ("Malformed", "NotSettlement", "PlanRejected")
                   for n in names)

    outside = [(str(p.relative_to(ROOT)), n.name) for p in PRODUCTION for n in ast.walk(ast.parse(p.read_text()))
               if isinstance(n, ast.ClassDef) and is_exception(n) and p.name != "errors.py"]
    assert outside == []


def test_one_malformed_one_retry_rule_one_retry_after_parser():
    text = {str(p.relative_to(ROOT)): p.read_text() for p in PRODUCTION}
    assert [f for f, t in text.items() if "class Malformed" in t] == ["errors.py"]
    assert [f for f, t in text.items() if "def should_retry" in t] == ["wire/http.py"]
    # wire/clob.py's _retry_after only picks the header or the body's field for wire/http.py's parser
    assert sorted(f for f, t in text.items() if re.search(r"def \w*retry_after\w*\(", t)) == ["wire/clob.py", "wire/http.py"]
    assert [f for f, t in text.items() if "parsedate" in t] == ["wire/http.py"]
    assert not [f for f, t in text.items() if "RETRY_STATUSES" in t or "status_code == 429" in t]
