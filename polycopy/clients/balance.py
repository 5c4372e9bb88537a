"""The pUSD balance and allowance of our funder wallet: CLOB `GET /balance-allowance`
(L2-authenticated, `asset_type=COLLATERAL`, our signature type), over clients/clob_rest.py.
Blocking; for the ledger's I/O thread. `make_balance_reader` builds it from the secrets (the API
credentials given, or derived from the key: network), a step a composition root can own."""
from __future__ import annotations

from polycopy.clients.clob_rest import ClobRest
from polycopy.errors import Malformed, OperationalError, TemporaryError
from polycopy.venue import clob
from polycopy.wire.balance import BalanceAllowance, parse_balance_allowance


class BalanceReader:
    def __init__(self, rest: ClobRest, signature_type: int):
        self.rest = rest
        self.signature_type = signature_type

    def read(self) -> BalanceAllowance:
        status, _, data = self.rest.request("GET", "/balance-allowance", auth=True, params={
            "asset_type": "COLLATERAL", "signature_type": str(self.signature_type)})
        if status in (401, 403):
            raise OperationalError(f"/balance-allowance refused our API credentials (HTTP {status})")
        if status != 200:
            raise TemporaryError(f"/balance-allowance answered HTTP {status}")
        try:
            return parse_balance_allowance(data)
        except Malformed as e:
            raise TemporaryError(f"/balance-allowance answered something else: {e}") from None

    def close(self) -> None:
        self.rest.close()


def make_balance_reader(config, secrets) -> BalanceReader:
    """From the secrets (network: derives the API credentials when they are not given)."""
    signer = clob.ClobSigner(secrets.private_key.get_secret_value(), signature_type=secrets.signature_type,
                             funder=secrets.funder, chain_id=config.venue.chain_id)
    rest = ClobRest(config.venue.clob_url, timeout_s=config.capital.http_timeout_ms / 1000)
    if secrets.api_key and secrets.api_secret and secrets.api_passphrase:
        rest.creds = clob.ApiCreds(secrets.api_key.get_secret_value(), secrets.api_secret.get_secret_value(),
                                   secrets.api_passphrase.get_secret_value())
    else:
        rest.creds = rest.create_or_derive_api_key(signer)
    rest.address = signer.address
    return BalanceReader(rest, secrets.signature_type)
