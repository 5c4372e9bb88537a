"""Load the policy YAML and the secrets from the environment, with one clear message per problem."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError

from polycopy.config.models import Config, Mode
from polycopy.errors import ConfigError

SECRET_WORDS = ("private_key", "privatekey", "secret", "passphrase", "api_key", "apikey", "password", "mnemonic")
ENV_PREFIX = "POLYCOPY_"
CHAT_ID = re.compile(r"-?\d{1,20}")


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Config:
    """Read and validate the YAML file. Raises ConfigError naming the key and the problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return parse_config(raw, source=str(path), overrides=overrides)


def parse_config(raw: dict, source: str = "config", overrides: dict[str, Any] | None = None) -> Config:
    for key in _secret_keys(raw):
        raise ConfigError(
            f"{source}: {key}: secrets are never read from the config file; "
            f"set them in the environment ({ENV_PREFIX}PRIVATE_KEY, ...) or a .env file, and remove this key"
        )
    merged = _merge(raw, overrides or {})
    try:
        return Config.model_validate(merged)
    except ValidationError as e:
        raise ConfigError(_describe(e, source)) from None


def _secret_keys(node: Any, prefix: str = ""):
    if isinstance(node, dict):
        for k, v in node.items():
            name = f"{prefix}{k}"
            if any(w in str(k).lower().replace("-", "_") for w in SECRET_WORDS):
                yield name
            yield from _secret_keys(v, name + ".")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def _describe(e: ValidationError, source: str) -> str:
    lines = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key (typo?)" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{source}: {loc}: {msg}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Secrets:
    """Credentials from the environment only. repr never shows a value."""

    private_key: SecretStr | None
    funder: str | None  # the wallet that holds the funds (maker)
    signature_type: int
    api_key: SecretStr | None
    api_secret: SecretStr | None
    api_passphrase: SecretStr | None
    alert_urls: SecretStr | None = None  # apprise URLs, space or comma separated
    polygon_ws_url: SecretStr | None = None  # a node URL with a key in it; wins over venue.polygon_ws_url
    telegram_token: SecretStr | None = None  # operator control
    telegram_chat_ids: tuple[int, ...] = field(default=(), repr=False)  # the chats allowed to command the bot

    def values(self) -> list[str]:
        """Every secret value, for the log redaction filter."""
        vals = [s.get_secret_value() for s in (self.private_key, self.api_key, self.api_secret, self.api_passphrase,
                                                self.alert_urls, self.polygon_ws_url, self.telegram_token) if s]
        return [v for v in vals if len(v) >= 6]


def load_secrets(env: dict[str, str] | None = None, dotenv: Path | None = None) -> Secrets:
    """Read secrets from the environment (and an optional .env file, which never overrides it)."""
    if dotenv is not None and dotenv.exists():
        from dotenv import dotenv_values

        env = {**{k: v for k, v in dotenv_values(dotenv).items() if v is not None}, **(env if env is not None else os.environ)}
    env = env if env is not None else dict(os.environ)

    def secret(name: str) -> SecretStr | None:
        v = env.get(ENV_PREFIX + name, "").strip()
        return SecretStr(v) if v else None

    sig = env.get(ENV_PREFIX + "SIGNATURE_TYPE", "0").strip() or "0"
    if sig not in ("0", "1", "2", "3"):
        raise ConfigError(f"environment: {ENV_PREFIX}SIGNATURE_TYPE: must be 0, 1, 2 or 3 (got a different value)")
    chats = env.get(ENV_PREFIX + "TELEGRAM_CHAT_IDS", "").replace(",", " ").split()
    if not all(CHAT_ID.fullmatch(c) for c in chats):
        raise ConfigError(f"environment: {ENV_PREFIX}TELEGRAM_CHAT_IDS: must be numeric chat ids, comma or space separated")
    return Secrets(
        private_key=secret("PRIVATE_KEY"),
        funder=(env.get(ENV_PREFIX + "FUNDER", "").strip() or None),
        signature_type=int(sig),
        api_key=secret("API_KEY"),
        api_secret=secret("API_SECRET"),
        api_passphrase=secret("API_PASSPHRASE"),
        alert_urls=secret("ALERT_URLS"),
        polygon_ws_url=secret("POLYGON_WS_URL"),
        telegram_token=secret("TELEGRAM_TOKEN"),
        telegram_chat_ids=tuple(int(c) for c in chats),
    )


def with_secret_urls(cfg: Config, secrets: Secrets) -> Config:
    """The config the actors get: endpoints that carry a key come from the environment."""
    if secrets.polygon_ws_url is None:
        return cfg
    venue = cfg.venue.model_copy(update={"polygon_ws_url": secrets.polygon_ws_url.get_secret_value()})
    return cfg.model_copy(update={"venue": venue})


def required_secrets_missing(mode: Mode, secrets: Secrets) -> list[str]:
    """Names of the environment variables the mode needs but lacks."""
    if mode is not Mode.live:
        return []
    missing = []
    if secrets.private_key is None:
        missing.append(ENV_PREFIX + "PRIVATE_KEY")
    if secrets.signature_type != 0 and not secrets.funder:
        missing.append(ENV_PREFIX + "FUNDER")
    return missing
