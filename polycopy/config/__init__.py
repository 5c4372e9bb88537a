"""Policy (YAML) and secrets (environment)."""
from polycopy.config.loader import (Secrets, load_config, load_secrets, parse_config, required_secrets_missing,
                                    with_secret_urls)
from polycopy.config.models import Config, Mode

__all__ = ["Config", "Mode", "Secrets", "load_config", "load_secrets", "parse_config", "required_secrets_missing",
           "with_secret_urls"]
