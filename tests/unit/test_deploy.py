"""deploy/: the Prometheus rules pass the real promtool (checked and unit-tested), every metric the
rules and the Grafana board name is one the bot exports (names from the metrics registry), and the
compose file wires the bot, Prometheus and Grafana to files that exist."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from polycopy.ops.metrics import Metrics
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "tests.yml"
SCRAPE = DEPLOY / "prometheus" / "prometheus.yml"
BOARD = DEPLOY / "grafana" / "polycopy.json"
COMPOSE = DEPLOY / "compose.yaml"
PROMETHEUS_OWN = {"up"}  # series Prometheus writes itself for every scrape target
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package prometheus; `make sysdeps` installs it as root)")

# ---------------------------------------------------------------- metric names in PromQL

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
            "inf", "nan"}


def promql_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers that are not functions, keywords,
    label names (inside {} or a grouping clause), durations or string contents."""
    s = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        before = s[m.start() - 1] if m.start() else " "
        if before.isdigit() or before in ".$" or m.group().lower() in KEYWORDS or s[m.end():].lstrip().startswith("("):
            continue
        names.add(m.group())
    return names


def exported_names(registry) -> set[str]:
    """Every series name the registry can export, by metric type."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                "summary": ("", "_sum", "_count", "_created")}
    return {fam.name + s for fam in registry.collect() for s in suffixes.get(fam.type, ("",))}


def rule_exprs() -> list[str]:
    return [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def board_panels() -> list[dict]:
    out = []
    for p in json.loads(BOARD.read_text())["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))  # panels inside a collapsed row
    return out


def board_exprs() -> list[str]:
    return [t["expr"] for p in board_panels() for t in p.get("targets", [])]


def test_promql_names_finds_metrics_and_nothing_else():
    expr = ('histogram_quantile(0.95, sum by (le, stage) (rate(polycopy_stage_seconds_bucket{stage!~"a|b"}[5m])))'
            ' > 3 unless on() max(kill:ratio offset 5m) == 1 and bool 1e3 < polycopy_x_total[$__rate_interval]')
    assert promql_names(expr) == {"polycopy_stage_seconds_bucket", "kill:ratio", "polycopy_x_total"}
    assert promql_names('up{job="polycopy_not_a_metric"} == 0') == {"up"}


def test_exported_names_come_from_the_registry():
    names = exported_names(Metrics().registry)
    assert {"polycopy_copy_delay_seconds_bucket", "polycopy_copies_total", "polycopy_kill_switch_tripped",
            "polycopy_balance_usd"} <= names
    assert "polycopy_copy_delay_seconds" not in names  # a histogram exports only its suffixed series


def test_every_metric_the_rules_and_the_board_use_is_exported():
    exported = exported_names(Metrics().registry) | PROMETHEUS_OWN
    used = {"rules": set().union(*map(promql_names, rule_exprs())),
            "board": set().union(*map(promql_names, board_exprs()))}
    assert len(used["rules"]) >= 8 and len(used["board"]) >= 15  # the parse found the expressions
    for where, names in used.items():
        assert names - exported == set(), f"{where} names metrics the bot does not export"


# ---------------------------------------------------------------- promtool


def promtool(*args) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, cwd=RULES.parent)


@needs_promtool
def test_promtool_checks_the_rules_and_the_scrape_config():
    rules = promtool("check", "rules", str(RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(rule_exprs())} rules found" in rules.stdout
    scrape = promtool("check", "config", str(SCRAPE))
    assert scrape.returncode == 0, scrape.stdout + scrape.stderr


@needs_promtool
def test_promtool_unit_tests_of_the_alerts_pass():
    run = promtool("test", "rules", str(RULE_TESTS))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_every_alert_has_a_unit_test_that_sees_it_fire():
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r}
    fired = {c["alertname"] for t in yaml.safe_load(RULE_TESTS.read_text())["tests"]
             for c in t.get("alert_rule_test", []) if c.get("exp_alerts")}
    assert len(alerts) >= 6 and alerts == fired


@needs_promtool
def test_promtool_fails_a_rule_that_does_not_fire_as_tested(tmp_path):
    """The unit tests can fail: the same tests against a feed-silence threshold of 10 minutes."""
    (tmp_path / "rules.yml").write_text(RULES.read_text().replace("polycopy_feed_silence_seconds > 60",
                                                                  "polycopy_feed_silence_seconds > 600"))
    (tmp_path / "tests.yml").write_text(RULE_TESTS.read_text())
    run = subprocess.run([PROMTOOL, "test", "rules", "tests.yml"], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert run.returncode != 0 and "PolycopyFeedSilent" in run.stdout + run.stderr


# ---------------------------------------------------------------- the board


@needs_promtool
def test_promtool_parses_every_board_query(tmp_path):
    """Each query of the board as a recording rule: promtool's parser checks its PromQL."""
    exprs = [e.replace("$__rate_interval", "1m") for e in board_exprs()]
    rules = {"groups": [{"name": "board", "rules": [{"record": f"board:query_{i}", "expr": e}
                                                    for i, e in enumerate(exprs)]}]}
    (tmp_path / "board.yml").write_text(yaml.safe_dump(rules))
    run = promtool("check", "rules", str(tmp_path / "board.yml"))
    assert run.returncode == 0 and f"SUCCESS: {len(exprs)} rules found" in run.stdout, run.stdout + run.stderr


def test_board_panels_are_well_formed():
    board = json.loads(BOARD.read_text())
    panels = board_panels()
    assert board["uid"] == "polycopy" and board["templating"]["list"][0]["type"] == "datasource"
    assert len({p["id"] for p in panels}) == len(panels)
    for p in panels:
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(set(refs)) == len(refs), p["title"]
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]


# ---------------------------------------------------------------- compose


def test_compose_runs_the_paper_bot_on_polysim_with_prometheus_and_grafana():
    compose = yaml.safe_load(COMPOSE.read_text())
    bot, prom, graf = (compose["services"][s] for s in ("bot", "prometheus", "grafana"))
    assert (DEPLOY / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve() == ROOT / "Dockerfile"
    entry = re.search(r"^ENTRYPOINT (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M)
    command = [a for a in json.loads(entry.group(1)) if a != "/usr/bin/tini" and a != "--"] + bot["command"]
    assert command == ["python", "run.py", "--config", "config.yaml", "--sim", "--paper"]
    # Prometheus reaches the bot's loopback-only /metrics by sharing its network namespace.
    assert prom["network_mode"] == "service:bot"
    assert any(p.endswith(":9090:9090") for p in bot["ports"])
    for service in (prom, graf):
        for volume in service["volumes"]:
            src = volume.split(":")[0]
            if src.startswith("."):
                assert (DEPLOY / src).exists(), src
    scrape = yaml.safe_load(SCRAPE.read_text())
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    target = scrape["scrape_configs"][0]["static_configs"][0]["targets"][0]
    assert target == f"127.0.0.1:{shipped['telemetry']['metrics_port']}"
    assert scrape["scrape_configs"][0]["job_name"] == "polycopy"  # PolycopyDown watches up{job="polycopy"}
    assert "/etc/prometheus/rules.yml" in " ".join(prom["volumes"]) and scrape["rule_files"] == ["rules.yml"]
    source = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    assert source["url"] == "http://bot:9090"
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/polycopy.yml").read_text())["providers"][0]
    assert any(v.endswith(f":{provider['options']['path']}/polycopy.json:ro") for v in graf["volumes"])
