"""The policy file: the shipped one loads; mistakes fail with a message naming the key."""
from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from polycopy.config import Mode, load_config, load_secrets, parse_config, required_secrets_missing, with_secret_urls
from polycopy.errors import ConfigError
from tests.conftest import ROOT


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
    s = load_secrets({"POLYCOPY_PRIVATE_KEY": "0x" + "ab" * 32, "POLYCOPY_API_SECRET": "s3cr3t-value", "POLYCOPY_SIGNATURE_TYPE": "2", "POLYCOPY_FUNDER": "0xF"})
    assert s.signature_type == 2 and s.funder == "0xF"
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
    env_file.write_text("POLYCOPY_PRIVATE_KEY=0xfromdotenv000\nPOLYCOPY_FUNDER=0xdotenvfunder\n")
    s = load_secrets({"POLYCOPY_FUNDER": "0xenvfunder"}, dotenv=env_file)
    assert s.private_key.get_secret_value() == "0xfromdotenv000"
    assert s.funder == "0xenvfunder"


def test_bad_signature_type_is_named():
    with pytest.raises(ConfigError, match="POLYCOPY_SIGNATURE_TYPE"):
        load_secrets({"POLYCOPY_SIGNATURE_TYPE": "7"})


def test_live_mode_requires_a_key_and_a_funder_for_proxy_wallets():
    assert required_secrets_missing(Mode.live, load_secrets({})) == ["POLYCOPY_PRIVATE_KEY"]
    assert required_secrets_missing(Mode.live, load_secrets({"POLYCOPY_PRIVATE_KEY": "0x" + "1" * 64, "POLYCOPY_SIGNATURE_TYPE": "1"})) == ["POLYCOPY_FUNDER"]
    assert required_secrets_missing(Mode.paper, load_secrets({})) == []
