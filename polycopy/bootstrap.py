"""The composition root: what an actor needs from outside its messages — secrets, the signer, the
venue's clients, the poster — built here from the config and the environment, once per actor
process, and handed to the actor. No actor reads the environment or constructs a client itself.

Each actor asks for its ports through one method (`make_ports`, `make_api`, `make_client`);
tests override that method and hand the actor fakes. The secrets come from the one loader
(`config.process_secrets`: the environment, then the `.env` beside the config file).
"""
from __future__ import annotations

from dataclasses import dataclass

from polycopy.config import Config, Mode, Secrets, process_secrets, required_secrets_missing
from polycopy.errors import ConfigError


@dataclass
class ExecutionPorts:
    """The executor's: the CLOB client, the signer (None: orders priced, not signed), the poster of
    its mode, and in live mode the API credentials, the post pool and the heartbeats."""

    rest: object  # clients.clob_rest.ClobRest
    signer: object | None  # venue.clob.ClobSigner
    poster: object  # venue.posters: LivePoster | PaperPoster | DryRunPoster
    creds: object | None = None  # venue.clob.ApiCreds (live)
    posts: object | None = None  # actors.post_pool.PostPool (live)
    heartbeats: object | None = None  # venue.heartbeat.Heartbeats (live, when configured)


def secrets() -> Secrets:
    return process_secrets()


def signer(config: Config, s: Secrets | None = None):
    """The order signer for the key in the environment, or None without one."""
    from polycopy.venue.clob import ClobSigner

    s = s or secrets()
    if s.private_key is None:
        return None
    return ClobSigner(s.private_key.get_secret_value(), signature_type=s.signature_type, funder=s.funder,
                      chain_id=config.venue.chain_id)


def execution_ports(config: Config, held: dict, *, s: Secrets | None = None, rest=None, post_pool=None,
                    ) -> ExecutionPorts:
    """Everything the executor posts with, for its mode. `held`: what the journal's paper fills hold
    (a restarted paper executor keeps its portfolio). Live mode derives the API credentials from the
    key when the environment has none (one L1-signed request)."""
    from polycopy.actors.post_pool import PostPool
    from polycopy.clients.clob_rest import ClobRest
    from polycopy.venue.paper import PaperPortfolio
    from polycopy.venue import clob
    from polycopy.venue.heartbeat import Heartbeats
    from polycopy.venue.posters import DryRunPoster, LivePoster, PaperPoster

    ex, mode = config.execution, config.execution.mode
    s = s or secrets()
    missing = required_secrets_missing(mode, s)
    if missing:
        raise ConfigError(f"live mode needs {', '.join(missing)} in the environment")
    rest = rest or ClobRest(config.venue.clob_url, timeout_s=ex.post_timeout_ms / 1000)
    sign = signer(config, s)
    if mode is not Mode.live:
        poster = PaperPoster(PaperPortfolio(shares=held)) if mode is Mode.paper else DryRunPoster()
        return ExecutionPorts(rest=rest, signer=sign, poster=poster)
    if s.api_key and s.api_secret and s.api_passphrase:
        creds = clob.ApiCreds(s.api_key.get_secret_value(), s.api_secret.get_secret_value(),
                              s.api_passphrase.get_secret_value())
    else:
        creds = rest.create_or_derive_api_key(sign)
    rest.creds, rest.address = creds, sign.address
    poster = LivePoster(rest, creds.key)
    heartbeats = Heartbeats(rest, ex.heartbeat_timeout_ms / 1000) if ex.heartbeats else None
    return ExecutionPorts(rest=rest, signer=sign, poster=poster, creds=creds, posts=(post_pool or PostPool)(poster),
                          heartbeats=heartbeats)


def markets_api(config: Config, timeout_s: float):
    """Gamma (market facts) and the CLOB's tick sizes, for the catalog."""
    from polycopy.clients.gamma import MarketsApi

    return MarketsApi(config.venue.gamma_url, config.venue.clob_url, timeout_s)


def positions_client(config: Config):
    """The Data API's positions and activity, for the reconciler."""
    from polycopy.clients.positions import PositionsClient

    return PositionsClient(config.venue.data_api_url, config.reconcile.http_timeout_ms / 1000)


def our_wallet(config: Config) -> str:
    """The wallet our orders trade for (live mode): the funder, else the key's own address."""
    s = secrets()
    if s.funder:
        return s.funder.lower()
    sign = signer(config, s)
    return sign.address.lower() if sign is not None else ""


def balance_reader(config: Config):
    """`GET /balance-allowance` for the ledger (live mode; network: derives the API credentials
    when the environment has none)."""
    from polycopy.clients.balance import make_balance_reader

    return make_balance_reader(config, secrets())


def redeem_steps(config: Config):
    """The redeemer's clients: the Data API, and the SDK's client for our wallet (built on the
    redeemer's I/O thread when `connect` runs: it talks to the CLOB and, for a gasless wallet, the
    relayer), with the Relayer API key or Builder keys from the environment."""
    from polycopy.actors.redeem_steps import Steps
    from polycopy.clients.data_api import DataApi
    from polycopy.venue import clob, redeem

    v, s = config.venue, secrets()
    sign = signer(config, s)
    if sign is None:
        raise ConfigError("the redeemer needs POLYCOPY_PRIVATE_KEY")
    env = redeem.environment(clob_url=v.clob_url, gamma_url=v.gamma_url, data_url=v.data_api_url,
                             relayer_url=v.relayer_url, rpc_url=v.polygon_rpc_url, chain_id=v.chain_id)
    creds = None
    if s.api_key and s.api_secret and s.api_passphrase:
        creds = clob.ApiCreds(s.api_key.get_secret_value(), s.api_secret.get_secret_value(),
                              s.api_passphrase.get_secret_value())
    api_key, key = redeem.api_key_of(s), s.private_key.get_secret_value()
    return Steps(lambda: redeem.SdkRedeemer.create(private_key=key, wallet=sign.maker, env=env, creds=creds,
                                                   api_key=api_key),
                 DataApi(v.data_api_url, config.redeem.http_timeout_ms / 1000))

