"""Load the policy YAML, with one clear message per problem; the same checks at start and on reload.

A file that says less than it seems to is refused: an empty or comment-only file (every cap at its
default), a key written twice (PyYAML keeps the last silently), a file without the caps or the
source wallet (a truncated save read by the hot reload). YAML errors give the line and column,
never the text of the line: it may hold a secret pasted in the wrong file.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from polycopy.config import rules
from polycopy.config.models import Config
from polycopy.config.secrets import (ENV_PREFIX, Secrets, load_secrets, required_secrets_missing,  # noqa: F401
                                     with_secret_urls)
from polycopy.errors import ConfigError, DuplicateKey as _DuplicateKey

SECRET_WORDS = ("private_key", "privatekey", "secret", "passphrase", "api_key", "apikey", "password", "mnemonic")
MAX_FILE_BYTES = 1_000_000
# Never from a default: the wallet copied and the caps on money.
REQUIRED = ("copy.source_wallet", "sizing.min_order_notional_usd", "sizing.max_notional_per_order_usd",
            "sizing.max_notional_per_market_usd", "sizing.max_total_notional_per_15m_window_usd",
            "risk.max_daily_volume_usd", "risk.max_portfolio_notional_usd")
SECRET_LIKE = re.compile(r"(0x)?[0-9a-fA-F]{32,}|\S{48,}")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise _DuplicateKey(key_node.value, key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Config:
    """Read and validate the YAML file. Raises ConfigError naming the key and the problem."""
    path = Path(path)
    try:
        text = path.read_bytes()[:MAX_FILE_BYTES + 1].decode("utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start})") from None
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES} bytes; not a policy file")
    raw = parse_yaml(text, str(path))
    if raw is None or raw == {}:
        raise ConfigError(f"{path}: empty (or only comments): refusing to run every cap on its built-in default")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    missing = [key for key in REQUIRED if not _has(raw, key)]
    if missing:
        raise ConfigError("\n".join(f"{path}: {key}: missing: the source wallet and every cap must be written in the "
                                    f"file, never taken from a default" for key in missing))
    return parse_config(raw, source=str(path), overrides=overrides)


def control_config(path: str | Path) -> Config:
    """For --status/--shutdown/--kill when the policy file does not validate: its `actors` and
    `store` sections alone (the admin port, the state folder), so the operator can still stop the
    bot or trip its kill switch while the file is being fixed. Never used to run."""
    try:
        raw = parse_yaml(Path(path).read_text(encoding="utf-8", errors="replace"), str(path))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return parse_config({k: raw[k] for k in ("actors", "store") if k in raw}, source=str(path))


def parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as e:
        raise ConfigError(f"{source}: {_where(e.mark)}: key {_key_name(e.key)} is written twice") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        # The problem may quote a fragment of the line: only punctuation and token names stay.
        problem = re.sub(r"'[^']*'|\"[^\"]*\"", _grammar_only, e.problem or "syntax error")
        raise ConfigError(f"{source}: not valid YAML at {_where(mark)}: {problem}") from None
    except yaml.YAMLError:
        raise ConfigError(f"{source}: not valid YAML (a character YAML does not allow?)") from None


def _grammar_only(quoted: re.Match) -> str:
    inner = quoted.group(0)[1:-1]
    return quoted.group(0) if re.fullmatch(r"[^\w\s]{1,3}|<[a-z ]+>", inner) else "'...'"


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown position"


def _key_name(key: str) -> str:
    """A key is named in errors unless it looks like a pasted secret (a long hex or token)."""
    return "(a value that looks like a secret)" if SECRET_LIKE.search(key) else key


def _has(raw: dict, key: str) -> bool:
    node = raw
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def parse_config(raw: dict, source: str = "config", overrides: dict[str, Any] | None = None) -> Config:
    """Validate a mapping (defaults fill what it leaves out; `load_config` first refuses a file that
    leaves out a cap): the schema, then the rules between fields."""
    for key in _secret_keys(raw):
        raise ConfigError(
            f"{source}: {key}: secrets are never read from the config file; "
            f"set them in the environment ({ENV_PREFIX}PRIVATE_KEY, ...) or the .env file beside it, and remove this key"
        )
    merged = _merge(raw, overrides or {})
    try:
        cfg = Config.model_validate(merged)
    except ValidationError as e:
        raise ConfigError(_describe(e, source)) from None
    broken = rules.problems(cfg)
    if broken:
        raise ConfigError("\n".join(f"{source}: {line}" for line in broken))
    return cfg


def check_reload(old: Config, new: Config, source: str = "config") -> None:
    """A reload may change the policy, not what is fixed at start."""
    broken = rules.reload_problems(old, new)
    if broken:
        raise ConfigError("\n".join(f"{source}: {line}" for line in broken))


def _secret_keys(node: Any, prefix: str = ""):
    if isinstance(node, dict):
        for k, v in node.items():
            name = f"{prefix}{_key_name(str(k))}"
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
        loc = ".".join(_key_name(str(p)) for p in err["loc"]) or "(top level)"
        msg = {"extra_forbidden": "unknown key (typo?)",
               "value_error": str(err.get("ctx", {}).get("error", err["msg"]))}.get(err["type"], err["msg"])
        lines.append(f"{source}: {loc}: {msg}")
    return "\n".join(lines)
