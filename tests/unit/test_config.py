"""The policy file: the shipped one loads; mistakes fail with a message naming the key."""
from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from polycopy.config import (Mode, check_reload, dotenv_path, load_config, load_secrets, parse_config, process_secrets,
                             required_secrets_missing, rules, use_dotenv, with_secret_urls)
from polycopy.errors import ConfigError
from tests.conftest import ROOT

FUNDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # EIP-55 checksummed (Hardhat #0)


def shipped() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_shipped_config_loads_with_the_design_defaults():
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.copy.source_wallet == "0x1d0034134e339a309700ff2d34e99fa2d48b0313"
    assert cfg.copy.copy_mode == "intent_net" and cfg.copy.coalesce_ms == 300 and cfg.copy.net_opposite_trades
    assert cfg.sizing.mode == "capped_proportional"
    assert cfg.sizing.max_notional_per_order_usd == Decimal("25")
    assert cfg.sizing.max_notional_per_market_usd == Decimal("150")
    assert cfg.sizing.max_total_notional_per_15m_window_usd == Decimal("400")
    assert cfg.execution.max_slippage_bps == 120 and cfg.execution.near_expiry_cutoff_seconds == 25
    assert cfg.mode is Mode.dry_run
    assert cfg.venue.clob_url == "https://clob.polymarket.com"


def test_money_is_decimal_not_float():
    cfg = load_config(ROOT / "config.yaml")
    assert isinstance(cfg.sizing.size_multiplier, Decimal)
    assert isinstance(cfg.risk.max_daily_volume_usd, Decimal)


def test_config_is_frozen():
    cfg = load_config(ROOT / "config.yaml")
    with pytest.raises(Exception):
        cfg.sizing.max_notional_per_order_usd = Decimal("1e9")


def test_a_typo_key_is_named():
    raw = shipped()
    raw["sizing"]["max_notional_per_ordr_usd"] = 5
    with pytest.raises(ConfigError, match=r"sizing\.max_notional_per_ordr_usd: unknown key"):
        parse_config(raw)


def test_an_unknown_section_is_named():
    raw = shipped()
    raw["sizng"] = {}
    with pytest.raises(ConfigError, match=r"sizng: unknown key"):
        parse_config(raw)


def test_a_negative_cap_is_named():
    raw = shipped()
    raw["sizing"]["max_notional_per_market_usd"] = -10
    with pytest.raises(ConfigError, match=r"sizing\.max_notional_per_market_usd: Input should be greater than 0"):
        parse_config(raw)


@pytest.mark.parametrize("section,key", [("venue", "private_key"), ("execution", "api_secret"), ("copy", "passphrase")])
def test_a_secret_in_yaml_is_refused_and_named(section, key):
    raw = shipped()
    raw[section][key] = "0xdeadbeefdeadbeef"
    with pytest.raises(ConfigError) as e:
        parse_config(raw)
    assert f"{section}.{key}" in str(e.value) and "environment" in str(e.value)
    assert "deadbeef" not in str(e.value)


def test_bad_yaml_and_missing_file_are_clear(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("copy: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_bad_wallet_address_is_named():
    raw = shipped()
    raw["copy"]["source_wallet"] = "0x123"
    with pytest.raises(ConfigError, match=r"copy\.source_wallet"):
        parse_config(raw)


def test_mode_override():
    cfg = load_config(ROOT / "config.yaml", {"execution": {"mode": "paper"}})
    assert cfg.mode is Mode.paper


def test_secrets_come_from_the_environment_and_never_show_in_repr():
    s = load_secrets({"POLYCOPY_PRIVATE_KEY": "0x" + "ab" * 32, "POLYCOPY_API_SECRET": "s3cr3t-value", "POLYCOPY_SIGNATURE_TYPE": "2", "POLYCOPY_FUNDER": FUNDER})
    assert s.signature_type == 2 and s.funder == FUNDER
    assert "ab" * 32 not in repr(s) and "s3cr3t-value" not in repr(s)
    assert "s3cr3t-value" in s.values()


def test_a_node_url_with_a_key_comes_from_the_environment_and_is_redacted():
    from polycopy.ops.logs import make_scrubber

    url = "wss://polygon-mainnet.g.alchemy.com/v2/Abc123SecretNodeKey456"
    s = load_secrets({"POLYCOPY_POLYGON_WS_URL": url})
    cfg = with_secret_urls(load_config(ROOT / "config.yaml"), s)
    assert cfg.venue.polygon_ws_url == url  # the mempool watcher runs on it
    assert with_secret_urls(load_config(ROOT / "config.yaml"), load_secrets({})).venue.polygon_ws_url is None
    assert url not in repr(s)
    line = make_scrubber(s.values())(f"mempool: connection ended: InvalidStatus for {url}")
    assert "Abc123SecretNodeKey456" not in line and "[REDACTED]" in line


def test_dotenv_fills_gaps_but_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"POLYCOPY_PRIVATE_KEY=0xfromdotenv000\nPOLYCOPY_FUNDER={'0x' + '1' * 40}\n")
    s = load_secrets({"POLYCOPY_FUNDER": FUNDER}, dotenv=env_file)
    assert s.private_key.get_secret_value() == "0xfromdotenv000"
    assert s.funder == FUNDER


def test_bad_signature_type_is_named():
    with pytest.raises(ConfigError, match="POLYCOPY_SIGNATURE_TYPE"):
        load_secrets({"POLYCOPY_SIGNATURE_TYPE": "7"})


def test_live_mode_requires_a_key_and_a_funder_for_proxy_wallets():
    assert required_secrets_missing(Mode.live, load_secrets({})) == ["POLYCOPY_PRIVATE_KEY"]
    assert required_secrets_missing(Mode.live, load_secrets({"POLYCOPY_PRIVATE_KEY": "0x" + "1" * 64, "POLYCOPY_SIGNATURE_TYPE": "1"})) == ["POLYCOPY_FUNDER"]
    assert required_secrets_missing(Mode.paper, load_secrets({})) == []


# ---------------------------------------------------------------- a file that says less than it seems


def write(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text", ["", "# only a comment\n\n   # and another\n", "{}\n", "---\n"])
def test_an_empty_or_comment_only_file_is_refused(tmp_path, text):
    with pytest.raises(ConfigError, match="empty"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize("key", ["copy.source_wallet", "sizing.max_notional_per_order_usd", "risk.max_daily_volume_usd"])
def test_caps_and_the_wallet_are_never_taken_from_a_default(tmp_path, key):
    raw = shipped()
    section, name = key.split(".")
    del raw[section][name]
    with pytest.raises(ConfigError, match=rf"{key}: missing"):
        load_config(write(tmp_path, yaml.safe_dump(raw)))


def test_a_key_written_twice_is_refused_with_its_line(tmp_path):
    text = (ROOT / "config.yaml").read_text().replace("  max_notional_per_order_usd: 25\n",
                                                      "  max_notional_per_order_usd: 2\n  max_notional_per_order_usd: 25\n")
    line = text.splitlines().index("  max_notional_per_order_usd: 25") + 1
    with pytest.raises(ConfigError, match=rf"line {line}, column 3: key max_notional_per_order_usd is written twice"):
        load_config(write(tmp_path, text))


SECRET = "0x" + "5e" * 32


@pytest.mark.parametrize("bad", [
    f"copy:\n  source_wallet: [{SECRET}\n",                    # unclosed flow sequence
    f"copy:\n  source_wallet: \"{SECRET}\n",                   # unclosed quote
    f"copy:\n\tsource_wallet: {SECRET}\n",                     # a tab
    f"copy:\n  a: 1\n b: {SECRET}\n",                          # bad indentation
    f"copy: {SECRET}: 3\n",                                     # mapping in a scalar
    f"copy:\n  source_wallet: *{SECRET[2:12]}\n",              # unknown alias
    f"copy:\n  x: \"\\q{SECRET}\"\n",                          # unknown escape
])
def test_yaml_errors_name_the_line_and_column_never_the_text(tmp_path, bad):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, bad))
    msg = str(e.value)
    assert re.search(r"line \d+, column \d+", msg), msg
    assert SECRET[2:12] not in msg and SECRET[4:] not in msg


def test_a_pasted_secret_used_as_a_key_is_not_echoed():
    raw = shipped()
    raw["sizing"][SECRET] = 1
    with pytest.raises(ConfigError) as e:
        parse_config(raw)
    assert "sizing." in str(e.value) and SECRET[2:] not in str(e.value)


@pytest.mark.parametrize("key,value", [
    ("actors.ping_interval_ms", 10**20), ("actors.ping_interval_ms", 1e20), ("actors.ping_interval_ms", "1e20"),
    ("actors.pong_timeout_ms", 10**9), ("detection.rtds_ping_interval_s", float("inf")),
    ("detection.rtds_silence_limit_s", float("nan")), ("detection.reconnect_max_ms", 10**12),
    ("risk.kill_window_s", 10**7), ("copy.max_fill_age_at_start_s", 10**9), ("execution.post_timeout_ms", 10**8),
    ("telemetry.log_keep_files", 10**6), ("telemetry.alerts.cooldown_s", 10**9),
    ("sizing.max_total_notional_per_15m_window_usd", "1e999999999"), ("sizing.size_multiplier", "Infinity"),
    ("venue.chain_id", -1), ("venue.chain_id", 0),
])
def test_every_duration_count_and_amount_has_bounds(key, value):
    raw = shipped()
    *path, name = key.split(".")
    node = raw
    for p in path:
        node = node[p]
    node[name] = value
    with pytest.raises(ConfigError, match=re.escape(key) + ":"):
        parse_config(raw)


def test_every_int_and_float_field_has_an_upper_bound():
    from polycopy.config import models

    unbounded = []
    for section in (models.CopyConfig, models.SizingConfig, models.ExecutionConfig, models.RiskConfig,
                    models.DetectionConfig, models.VenueConfig, models.ReconcileConfig, models.CapitalConfig, models.RedeemConfig,
                    models.StoreConfig,
                    models.AlertsConfig, models.TelemetryConfig, models.ActorsConfig):
        for name, f in section.model_fields.items():
            if f.annotation in (int, float, Decimal) and not any(hasattr(m, "le") or hasattr(m, "lt") for m in f.metadata):
                unbounded.append(f"{section.__name__}.{name}")
    assert unbounded == []


@pytest.mark.parametrize("a,b", [*rules.AT_MOST, *rules.BELOW])
def test_each_min_above_its_max_is_refused_naming_both(a, b):
    raw = shipped()
    (sa, ka), (sb, kb) = a.split("."), b.split(".")
    half = rules.value(load_config(ROOT / "config.yaml"), a) / 2  # in seconds for durations
    half *= Decimal(1000) if b.endswith("_ms") else Decimal(1)  # in b's own unit
    raw[sb][kb] = int(half) if half == int(half) else float(half)
    with pytest.raises(ConfigError, match=rf"{re.escape(a)}: must be (at most|below) {re.escape(b)}"):
        parse_config(raw)


def test_equal_min_and_max_are_allowed_where_at_most():
    raw = shipped()
    raw["detection"]["reconnect_min_ms"] = raw["detection"]["reconnect_max_ms"]
    raw["sizing"]["max_notional_per_market_usd"] = raw["sizing"]["max_notional_per_order_usd"]
    parse_config(raw)


def test_fixed_sizing_must_fit_the_per_order_cap():
    raw = shipped()
    raw["sizing"].update(mode="fixed", fixed_notional_usd=30)
    with pytest.raises(ConfigError, match=r"sizing\.fixed_notional_usd: must be at most sizing\.max_notional_per_order_usd"):
        parse_config(raw)
    raw["sizing"]["mode"] = "capped_proportional"  # not used then
    parse_config(raw)


CHECKSUMMED = "0x1d0034134e339a309700Ff2D34e99FA2d48b0313"


@pytest.mark.parametrize("wallet,ok", [
    (CHECKSUMMED, True), (CHECKSUMMED.lower(), True), ("0x" + CHECKSUMMED[2:].upper(), True),
    (CHECKSUMMED.replace("Ff2D", "ff2D"), False), (CHECKSUMMED.replace("FA2d", "Fa2d"), False),
])
def test_a_mixed_case_address_must_carry_its_eip55_checksum(wallet, ok):
    raw = shipped()
    raw["copy"]["source_wallet"] = wallet
    if ok:
        assert parse_config(raw).copy.source_wallet == CHECKSUMMED.lower()
    else:
        with pytest.raises(ConfigError, match=r"copy\.source_wallet: .*EIP-55"):
            parse_config(raw)


@given(st.text(alphabet="0123456789abcdefABCDEF", min_size=40, max_size=40))
def test_address_check_is_total(body):
    from polycopy.config.checks import address

    try:
        out = address("0x" + body)
    except ValueError:
        assert body.lower() != body and body.upper() != body  # only a bad checksum is refused
    else:
        assert out == "0x" + body.lower()


LIVE = {"execution": {"mode": "live"}}


@pytest.mark.parametrize("key,url,live_ok", [
    ("clob_url", "http://clob.example.com", False), ("clob_url", "https://clob.example.com", True),
    ("rtds_url", "ws://rtds.example.com", False), ("rtds_url", "wss://rtds.example.com", True),
    ("clob_url", "http://127.0.0.1:8080", True), ("clob_url", "http://127.9.9.9", True),
    ("clob_url", "http://localhost:1", True), ("clob_url", "http://[::1]:8080", True),
    ("clob_ws_user_url", "ws://127.0.0.1:9/ws/user", True), ("data_api_url", "http://10.0.0.1", False),
    ("gamma_url", "http://localhost.example.com", False), ("polygon_ws_url", "ws://node.example.com", False),
    ("geoblock_url", "http://128.0.0.1", False),
])
def test_live_mode_needs_tls_except_on_loopback(key, url, live_ok):
    raw = shipped()
    raw["venue"][key] = url
    parse_config(raw)  # dry_run: anything well formed
    if live_ok:
        parse_config(raw, overrides=LIVE)
    else:
        with pytest.raises(ConfigError, match=rf"venue\.{key}: live mode needs"):
            parse_config(raw, overrides=LIVE)


@pytest.mark.parametrize("url", ["ftp://clob.example.com", "https://", "clob.example.com", "https://h:99999"])
def test_a_venue_url_must_be_well_formed_in_every_mode(url):
    raw = shipped()
    raw["venue"]["clob_url"] = url
    with pytest.raises(ConfigError, match=r"venue\.clob_url: "):
        parse_config(raw)


def test_a_node_url_from_the_environment_is_checked_and_never_echoed():
    url = "ws://polygon.example.com/v2/Abc123SecretNodeKey456"
    with pytest.raises(ConfigError, match="POLYCOPY_POLYGON_WS_URL: live mode needs") as e:
        with_secret_urls(load_config(ROOT / "config.yaml", LIVE), load_secrets({"POLYCOPY_POLYGON_WS_URL": url}))
    assert "Abc123" not in str(e.value)


def test_a_reload_may_change_the_policy_but_not_what_is_fixed_at_start():
    old = load_config(ROOT / "config.yaml")
    check_reload(old, load_config(ROOT / "config.yaml", {"sizing": {"max_notional_per_order_usd": 2}}))
    for over, key in [({"execution": {"mode": "live"}}, "execution.mode"), ({"actors": {"admin_port": 20000}}, "actors.admin_port"),
                      ({"store": {"path": "/elsewhere/p.sqlite"}}, "store"), ({"venue": {"chain_id": 80002}}, "venue")]:
        with pytest.raises(ConfigError, match=rf"{re.escape(key)}: changed, but only a restart applies it"):
            check_reload(old, load_config(ROOT / "config.yaml", over))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_text_gives_a_config_or_a_config_error_that_never_echoes_the_secret(tmp_path_factory, data):
    """Corrupt the shipped file around a pasted secret: only ConfigError, and never the secret."""
    lines = (ROOT / "config.yaml").read_text().splitlines()
    at = data.draw(st.integers(0, len(lines)))
    pasted = data.draw(st.sampled_from([f"  private: {SECRET}", f"{SECRET}", f"  x: [{SECRET}", f"  {SECRET}: 1",
                                        f"sizing: {SECRET}", f"\t{SECRET}", f"'{SECRET}", f"  - {SECRET}"]))
    noise = data.draw(st.text(alphabet=":-[]{}'\"#&*!|> \t\n", max_size=6))
    text = "\n".join([*lines[:at], pasted + noise, *lines[at:]])
    path = tmp_path_factory.mktemp("c") / "config.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as e:
        assert SECRET[2:] not in str(e) and SECRET[4:20] not in str(e)


# ---------------------------------------------------------------- one loader for secrets


def test_the_dotenv_file_is_the_one_beside_the_config(tmp_path):
    assert dotenv_path(tmp_path / "etc" / "config.yaml") == tmp_path / "etc" / ".env"
    assert dotenv_path("config.yaml") == Path.cwd() / ".env"


def test_new_secrets_are_read_never_shown_and_redacted(tmp_path):
    env = {"POLYCOPY_RELAYER_API_KEY": "relayer-key-123", "POLYCOPY_RELAYER_API_KEY_ADDRESS": FUNDER,
           "POLYCOPY_BUILDER_API_KEY": "builder-key-456", "POLYCOPY_BUILDER_SECRET": "YnVpbGRlci1zZWNyZXQ=",
           "POLYCOPY_BUILDER_PASSPHRASE": "builder-pass-789", "POLYCOPY_TELEGRAM_TOKEN": "123456:ABCdefGhIJKlmnop",
           "POLYCOPY_TELEGRAM_CHAT_IDS": "111, -1002223334445"}
    s = load_secrets(env)
    assert s.relayer_api_key.get_secret_value() == "relayer-key-123" and s.relayer_api_key_address == FUNDER
    assert s.builder_secret.get_secret_value() == "YnVpbGRlci1zZWNyZXQ=" and s.telegram_chat_ids == (111, -1002223334445)
    for name, v in env.items():
        if name != "POLYCOPY_RELAYER_API_KEY_ADDRESS":
            assert v not in repr(s)
    assert {"relayer-key-123", "builder-key-456", "YnVpbGRlci1zZWNyZXQ=", "builder-pass-789",
            "123456:ABCdefGhIJKlmnop"} <= set(s.values())


@pytest.mark.parametrize("name,value", [("POLYCOPY_TELEGRAM_CHAT_IDS", "111,@mychannel"),
                                        ("POLYCOPY_FUNDER", FUNDER.replace("f39F", "f39f")),
                                        ("POLYCOPY_RELAYER_API_KEY_ADDRESS", "0x1234")])
def test_bad_secret_values_are_named_not_shown(name, value):
    with pytest.raises(ConfigError, match=name) as e:
        load_secrets({name: value})
    assert value not in str(e.value)


def test_process_secrets_reads_the_dotenv_once_and_the_environment_wins(tmp_path, monkeypatch):
    from polycopy.config import secrets as mod

    env_file = tmp_path / ".env"
    env_file.write_text("POLYCOPY_PRIVATE_KEY=0xfromdotenv000\nPOLYCOPY_API_KEY=from-dotenv\n")
    for k in [k for k in os.environ if k.startswith("POLYCOPY_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("POLYCOPY_API_KEY", "from-environment")
    monkeypatch.setattr(mod, "_dotenv", None)
    monkeypatch.setattr(mod, "_cached", None)
    use_dotenv(env_file)
    first = process_secrets()
    assert first.private_key.get_secret_value() == "0xfromdotenv000"
    assert first.api_key.get_secret_value() == "from-environment"
    env_file.unlink()  # not read again: the same object
    assert process_secrets() is first
    monkeypatch.setenv("POLYCOPY_PRIVATE_KEY", "0xfromtheenvironment")  # a changed environment is a fresh read
    assert process_secrets().private_key.get_secret_value() == "0xfromtheenvironment"


def test_log_format_and_its_older_name():
    assert load_config(ROOT / "config.yaml").telemetry.log_format == "auto"
    assert parse_config({"telemetry": {"log_json_stdout": True}}).telemetry.log_format == "json"
    assert parse_config({"telemetry": {"log_json_stdout": False}}).telemetry.log_format == "human"
    for bad in ({"log_json_stdout": True, "log_format": "json"}, {"log_format": "xml"}, {"log_json_stdout": "yes"}):
        with pytest.raises(ConfigError):
            parse_config({"telemetry": bad})
