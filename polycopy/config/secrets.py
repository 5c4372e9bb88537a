"""Secrets: one loader, from the environment and a `.env` file (the environment wins).

Where `.env` is looked for: beside the config file (`/etc/polycopy/config.yaml` ->
`/etc/polycopy/.env`), never the working directory, so systemd, cron and a shell in another
folder all read the same file. `use_dotenv` records that path for this process and every process
it forks (the actor system is forked from the runner); `process_secrets` reads the environment
and the file once and hands the same frozen `Secrets` to every caller. The cache is keyed on the
path and the POLYCOPY_ environment, so a caller that changes either (`--sim` filling in its public
test key; tests) gets a fresh read, and nothing else ever reads the file again.

No value is ever put in a message, a repr or a log line; `values()` feeds the log redaction.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from polycopy.config.checks import address
from polycopy.config.models import Config, Mode
from polycopy.errors import ConfigError

ENV_PREFIX = "POLYCOPY_"
DOTENV = ".env"
CHAT_ID = re.compile(r"-?\d{1,20}")


@dataclass(frozen=True)
class Secrets:
    """Credentials from the environment or `.env` only. repr never shows a value."""

    private_key: SecretStr | None
    funder: str | None  # the wallet that holds the funds (maker)
    signature_type: int
    api_key: SecretStr | None
    api_secret: SecretStr | None
    api_passphrase: SecretStr | None
    alert_urls: SecretStr | None = None  # apprise URLs, space or comma separated
    polygon_ws_url: SecretStr | None = None  # a node URL with a key in it; wins over venue.polygon_ws_url
    relayer_api_key: SecretStr | None = None  # gasless redemption (VENUE-2026-12.md §2.4)
    relayer_api_key_address: str | None = None
    builder_api_key: SecretStr | None = None
    builder_secret: SecretStr | None = None
    builder_passphrase: SecretStr | None = None
    telegram_token: SecretStr | None = None  # operator control
    telegram_chat_ids: tuple[int, ...] = field(default=(), repr=False)  # the chats allowed to command the bot

    def values(self) -> list[str]:
        """Every secret value, for the log redaction filter."""
        vals = [s.get_secret_value() for s in (self.private_key, self.api_key, self.api_secret, self.api_passphrase,
                                                self.alert_urls, self.polygon_ws_url, self.relayer_api_key,
                                                self.builder_api_key, self.builder_secret, self.builder_passphrase,
                                                self.telegram_token) if s]
        return [v for v in vals if len(v) >= 6]


def dotenv_path(config_path: str | Path) -> Path:
    """The `.env` beside the config file (the path as given: a symlinked config keeps its folder)."""
    return Path(os.path.abspath(config_path)).parent / DOTENV


def load_secrets(env: dict[str, str] | None = None, dotenv: Path | None = None) -> Secrets:
    """Read secrets from `env` (default: the process environment) over an optional `.env` file.

    Pure: no cache. Processes use `process_secrets`; this is for tests and one-off tools."""
    env = dict(os.environ) if env is None else env
    if dotenv is not None and dotenv.is_file():
        from dotenv import dotenv_values

        env = {**{k: v for k, v in dotenv_values(dotenv).items() if v is not None}, **env}

    def text(name: str) -> str:
        return env.get(ENV_PREFIX + name, "").strip()

    def secret(name: str) -> SecretStr | None:
        return SecretStr(text(name)) if text(name) else None

    def wallet(name: str) -> str | None:  # checked, kept as written (the signer checksums it)
        try:
            return address(text(name)) and text(name) if text(name) else None
        except ValueError as e:
            raise ConfigError(f"environment: {ENV_PREFIX}{name}: {e}") from None

    sig = text("SIGNATURE_TYPE") or "0"
    if sig not in ("0", "1", "2", "3"):
        raise ConfigError(f"environment: {ENV_PREFIX}SIGNATURE_TYPE: must be 0, 1, 2 or 3 (got a different value)")
    chats = text("TELEGRAM_CHAT_IDS").replace(",", " ").split()
    if not all(CHAT_ID.fullmatch(c) for c in chats):
        raise ConfigError(f"environment: {ENV_PREFIX}TELEGRAM_CHAT_IDS: must be numeric chat ids, comma or space separated")
    return Secrets(
        private_key=secret("PRIVATE_KEY"),
        funder=wallet("FUNDER"),
        signature_type=int(sig),
        api_key=secret("API_KEY"),
        api_secret=secret("API_SECRET"),
        api_passphrase=secret("API_PASSPHRASE"),
        alert_urls=secret("ALERT_URLS"),
        polygon_ws_url=secret("POLYGON_WS_URL"),
        relayer_api_key=secret("RELAYER_API_KEY"),
        relayer_api_key_address=wallet("RELAYER_API_KEY_ADDRESS"),
        builder_api_key=secret("BUILDER_API_KEY"),
        builder_secret=secret("BUILDER_SECRET"),
        builder_passphrase=secret("BUILDER_PASSPHRASE"),
        telegram_token=secret("TELEGRAM_TOKEN"),
        telegram_chat_ids=tuple(int(c) for c in chats),
    )


_lock = threading.Lock()
_dotenv: Path | None = None  # inherited by forked processes
_cached: tuple[str, Secrets] | None = None


def use_dotenv(path: Path | None) -> None:
    """Where this process (and the processes it forks) reads `.env`; None: the environment only."""
    global _dotenv
    _dotenv = path


def process_secrets() -> Secrets:
    """This process's secrets: read once, the same object for every caller."""
    global _cached
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    key = hashlib.sha256(repr((str(_dotenv), sorted(env.items()))).encode()).hexdigest()
    with _lock:
        if _cached is None or _cached[0] != key:
            _cached = (key, load_secrets(env, _dotenv))
        return _cached[1]


def with_secret_urls(cfg: Config, secrets: Secrets) -> Config:
    """The config the actors get: endpoints that carry a key come from the environment."""
    if secrets.polygon_ws_url is None:
        return cfg
    from polycopy.config.checks import url_problem

    why = url_problem(secrets.polygon_ws_url.get_secret_value(), "ws", cfg.mode is Mode.live)
    if why:
        raise ConfigError(f"environment: {ENV_PREFIX}POLYGON_WS_URL: {why}")
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
