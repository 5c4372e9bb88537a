"""Derive the CLOB API credentials from the private key and print them as environment lines.

    POLYCOPY_PRIVATE_KEY=0x... [POLYCOPY_SIGNATURE_TYPE=3 POLYCOPY_FUNDER=0x...] \\
        python -m polycopy.ops.credentials --env-format >> .env

Signature types (CLOB-V2.md §2.8): 0 EOA (maker = the key's address), 1 Polymarket proxy
(email/Magic accounts), 2 Gnosis Safe (browser-wallet accounts), 3 deposit wallet (new API
accounts). For 1-3 the funder is derived from the key when POLYCOPY_FUNDER is unset, and a
funder that is not the wallet of that key is refused (types 1/2). The key creates or derives
the credentials with an L1 signature (POST /auth/api-key, then GET /auth/derive-api-key).
"""
from __future__ import annotations

import argparse
import sys

from polycopy.config import dotenv_path, load_config, load_secrets, process_secrets, use_dotenv
from polycopy.errors import ConfigError, OperationalError, TemporaryError

# venue rejection reason (responses.ERROR_TABLE) -> what the operator most likely has to change
HINTS = {
    "maker_not_allowed": "the venue wants the deposit-wallet flow for this account: set POLYCOPY_SIGNATURE_TYPE=3 and "
                         "POLYCOPY_FUNDER to your deposit wallet (deployed and funded), then re-derive credentials",
    "signer_not_api_key": "the API key belongs to a different address than the order signer: re-run "
                          "`python -m polycopy.ops.credentials --env-format` with the same POLYCOPY_PRIVATE_KEY, and for "
                          "type 3 make sure the deposit wallet is deployed",
    "owner_not_api_key": "POLYCOPY_API_KEY does not belong to this key: re-derive the credentials",
    "invalid_signature": "wrong POLYCOPY_SIGNATURE_TYPE or POLYCOPY_FUNDER for this key",
    "auth": "the API credentials are invalid: re-derive them with `python -m polycopy.ops.credentials --env-format`",
}


def hint(reason: str) -> str:
    return HINTS.get(reason, "")


def derive(clob_url: str, chain_id: int, env: dict | None = None, nonce: int = 0) -> list[str]:
    """The env lines for the credentials of the key in `env` (default: the process environment)."""
    from polycopy.clients.clob_rest import ClobRest
    from polycopy.venue.clob import ClobSigner

    secrets = process_secrets() if env is None else load_secrets(env)
    if secrets.private_key is None:
        raise ConfigError("POLYCOPY_PRIVATE_KEY is not set")
    signer = ClobSigner(secrets.private_key.get_secret_value(), signature_type=secrets.signature_type,
                        funder=secrets.funder, chain_id=chain_id)
    rest = ClobRest(clob_url, timeout_s=10)
    try:
        creds = rest.create_or_derive_api_key(signer, nonce=nonce)
    finally:
        rest.close()
    return [f"POLYCOPY_API_KEY={creds.key}", f"POLYCOPY_API_SECRET={creds.secret}",
            f"POLYCOPY_API_PASSPHRASE={creds.passphrase}", f"POLYCOPY_SIGNATURE_TYPE={signer.signature_type}",
            f"POLYCOPY_FUNDER={signer.maker}"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m polycopy.ops.credentials", description=__doc__.split("\n\n")[0])
    p.add_argument("--env-format", action="store_true", help="print KEY=value lines (for a .env file)")
    p.add_argument("--config", default="config.yaml", help="policy file (for venue.clob_url and chain_id)")
    p.add_argument("--clob-url", help="override the CLOB URL (e.g. polysim's)")
    p.add_argument("--nonce", type=int, default=0)
    args = p.parse_args(argv)
    try:
        use_dotenv(dotenv_path(args.config))  # the key may be in the .env beside the config
        venue = load_config(args.config).venue
        lines = derive(args.clob_url or venue.clob_url, venue.chain_id, nonce=args.nonce)
    except (ConfigError, OperationalError, TemporaryError) as e:
        print(f"error: {e}", file=sys.stderr)
        if "401" in str(e) or "Invalid L1" in str(e):
            print("hint: the L1 signature was refused: check POLYCOPY_PRIVATE_KEY and the machine's clock",
                  file=sys.stderr)
        return 2
    if not args.env_format:
        print("# add these to the environment or the .env file beside config.yaml (never to config.yaml)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
