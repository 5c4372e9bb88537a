"""Policy (YAML) and secrets (environment and `.env`)."""
from polycopy.config.loader import check_reload, load_config, parse_config
from polycopy.config.models import Config, Mode
from polycopy.config.secrets import (Secrets, dotenv_path, load_secrets, process_secrets, required_secrets_missing,
                                     use_dotenv, with_secret_urls)

__all__ = ["Config", "Mode", "Secrets", "check_reload", "dotenv_path", "load_config", "load_secrets", "parse_config",
           "process_secrets", "required_secrets_missing", "use_dotenv", "with_secret_urls"]
