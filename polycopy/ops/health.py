"""Preflight checks (`run.py --healthcheck`, and at start): one line per check; exit 0 only if none failed.

Checks: the secrets the mode needs; every endpoint answers (the Data API as v2 pages from
`/v2/trades`, Gamma as `/markets/keyset`: what the backstop, the reconciler and the catalog
read; an answer in another shape fails); clock skew against the CLOB's `/time`; the CLOB's order version (`/version`, V2 expected); the venue's geoblock answer for this
host; the wallet and signature type agree; and in live mode the pUSD balance and allowances
(`/balance-allowance`, L2 auth); with `redeem.enabled`, what redemption needs: for a gasless
wallet (signature types 1-3) a Relayer API key (or Builder keys) and a deployed wallet (the
relayer's `/deployed`, which the SDK asks too), for an EOA a reachable Polygon JSON-RPC. A "warn"
line informs without failing (a geoblock outside live mode, where nothing is posted).
"""
from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation

from polycopy.clients import probe
from polycopy.config import Config, Mode, Secrets, geoblock, required_secrets_missing
from polycopy.errors import Malformed, TemporaryError
from polycopy.wire.data_api import parse_page
from polycopy.wire.gamma import parse_keyset

TIMEOUT_S = 3.0
OK, FAIL, WARN = True, False, None
CLOSE_ONLY = "close_only"  # a warning that also starts the system close-only (live mode)
CLOB_VERSION = 2


def check_secrets(cfg: Config, secrets: Secrets):
    missing = required_secrets_missing(cfg.mode, secrets)
    if missing:
        return FAIL, f"{cfg.mode.value} mode needs {', '.join(missing)} in the environment"
    return OK, f"secrets present for {cfg.mode.value} mode"


def check_http(name: str, url: str, path: str, params: dict | None = None, parse=None):
    """GET url+path: reachable, and (with `parse`) an answer in the shape we read."""
    try:
        r = probe.get(url.rstrip("/") + path, params, TIMEOUT_S)
    except TemporaryError as e:
        return FAIL, f"{name} unreachable at {url}: {e}"
    if r.status_code >= 500 or (parse is not None and r.status_code != 200):
        return FAIL, f"{name} at {url} answered {r.status_code} on {path}"
    if parse is not None:
        try:
            parse(r.body)
        except Malformed as e:
            return FAIL, f"{name} at {url}: {path} answered something else than we read ({e.kind})"
    return OK, f"{name} reachable ({r.status_code})"


def check_tcp(name: str, url: str):
    try:
        probe.tcp_connect(url, TIMEOUT_S)
    except TemporaryError as e:
        return FAIL, f"{name} unreachable at {url}: {e}"
    return OK, f"{name} reachable"


def check_clock(cfg: Config):
    limit = cfg.telemetry.max_clock_skew_s
    try:
        t0 = time.time()
        server = float(probe.get(cfg.venue.clob_url.rstrip("/") + "/time").text[:40])
        local = (t0 + time.time()) / 2
    except (TemporaryError, ValueError) as e:
        return FAIL, f"clock: cannot read the CLOB server time: {type(e).__name__}"
    skew = local - (server + 0.5)  # /time is whole seconds: the server's time lies in [server, server + 1)
    if abs(skew) > limit:
        return FAIL, f"clock skewed by {skew:+.1f} s against the CLOB (limit {limit} s): fix NTP; signed requests will be refused"
    return OK, f"clock skew {skew:+.1f} s against the CLOB"


def check_version(cfg: Config):
    try:
        version = probe.get(cfg.venue.clob_url.rstrip("/") + "/version").json()["version"]
    except (TemporaryError, ValueError, KeyError, TypeError) as e:
        return FAIL, f"CLOB version: cannot read /version: {type(e).__name__}"
    if version != CLOB_VERSION:
        return FAIL, f"CLOB /version says {version}; this build signs V{CLOB_VERSION} orders: upgrade polycopy"
    return OK, f"CLOB order version {version}"


def check_geoblock(cfg: Config):
    """The venue's geoblock answer for this host, judged by the tier table (config/geoblock.py): in live
    mode tier 1 fails, tier 2 starts close-only, tier 3 or an unlisted `blocked` warns."""
    url = cfg.venue.geoblock_url
    try:
        ans = probe.get(url).json()
        blocked, country, region = ans["blocked"], str(ans.get("country", "")), str(ans.get("region", ""))
    except (TemporaryError, ValueError, KeyError, TypeError, AttributeError) as e:
        return FAIL, f"geoblock: no answer from {url}: {type(e).__name__}"
    v = geoblock.classify(country, region, blocked is True, cfg.venue.geoblock_tier_overrides)
    where = f"{country or '?'}-{region or '?'} ({ans.get('ip', '?')}), tier {v.tier or 'unlisted'} " \
            f"(table of {geoblock.as_of()})"
    if v.action == geoblock.OK:
        return OK, f"geoblock: this host may trade, {where}"
    if v.action == geoblock.REFUSE:
        line = f"geoblock: {v.place} is blocked completely, {where}: no order may be placed from this host"
        return (FAIL, line) if cfg.mode is Mode.live else (WARN, line + " (fine for this mode, fatal for --live)")
    if v.action == geoblock.CLOSE_ONLY:
        return CLOSE_ONLY, f"geoblock: {v.place} may only close positions, {where}: the bot starts close-only"
    return WARN, (f"geoblock: the venue answers blocked for {where}; the API may still trade there. The bot "
                  f"starts; a refused order switches it to close-only")


def make_signer(cfg: Config, secrets: Secrets):
    """(signer or None, check result): the key, signature type and funder must agree."""
    if secrets.private_key is None:
        if cfg.mode is Mode.live:
            return None, (FAIL, "wallet: cannot be checked without POLYCOPY_PRIVATE_KEY")
        return None, (OK, f"wallet: no private key (orders are priced but not signed in {cfg.mode.value} mode)")
    from polycopy.errors import ConfigError
    from polycopy.venue.clob import ClobSigner

    try:
        s = ClobSigner(secrets.private_key.get_secret_value(), signature_type=secrets.signature_type,
                       funder=secrets.funder, chain_id=cfg.venue.chain_id)
    except ConfigError as e:
        return None, (FAIL, f"wallet: {e}")
    return s, (OK, f"wallet: signer {s.address}, funder {s.maker}, signature type {s.signature_type}")


def check_funds(cfg: Config, secrets: Secrets, signer):
    """Live mode: pUSD balance and the exchanges' allowances cover at least one maximal order."""
    from polycopy.clients.clob_rest import ClobRest
    from polycopy.errors import OperationalError
    from polycopy.venue.clob import ApiCreds

    rest = ClobRest(cfg.venue.clob_url, timeout_s=TIMEOUT_S)
    try:
        if secrets.api_key and secrets.api_secret and secrets.api_passphrase:
            rest.creds = ApiCreds(secrets.api_key.get_secret_value(), secrets.api_secret.get_secret_value(),
                                  secrets.api_passphrase.get_secret_value())
        else:  # derive (read-only: never creates a key)
            status, _, data = rest.request("GET", "/auth/derive-api-key", headers=signer.l1_headers())
            if status != 200 or not isinstance(data, dict) or not data.get("apiKey"):
                return FAIL, f"funds: cannot derive API credentials (HTTP {status}); run python -m polycopy.ops.credentials"
            rest.creds = ApiCreds(data["apiKey"], data["secret"], data["passphrase"])
        rest.address = signer.address
        status, _, data = rest.request("GET", "/balance-allowance", auth=True, params={
            "asset_type": "COLLATERAL", "signature_type": str(secrets.signature_type)})
    except (OperationalError, TemporaryError) as e:
        return FAIL, f"funds: {e}"
    finally:
        rest.close()
    if status == 401:
        return FAIL, "funds: the CLOB refused the API credentials (401): re-derive them with python -m polycopy.ops.credentials"
    if status != 200 or not isinstance(data, dict):
        return FAIL, f"funds: /balance-allowance answered HTTP {status}"
    need = cfg.sizing.max_notional_per_order_usd
    try:
        balance = Decimal(str(data.get("balance", "0"))) / 1_000_000
        allowances = {k: Decimal(str(v)) / 1_000_000 for k, v in (data.get("allowances") or {}).items()}
    except InvalidOperation:
        return FAIL, "funds: /balance-allowance answered something that is not a number"
    if balance < need:
        return FAIL, f"funds: pUSD balance {balance:.2f} is below one maximal order ({need} USD): deposit pUSD"
    short = sorted(k for k, v in allowances.items() if v < need)
    if not allowances or short:
        return FAIL, f"funds: allowance below {need} pUSD for {', '.join(short) or 'every exchange'}: set the trading approvals"
    return OK, f"funds: {balance:.2f} pUSD, allowances set for {len(allowances)} exchanges"


RELAYER_TYPES = {1: "PROXY", 2: "SAFE", 3: "WALLET"}


def check_redeem(cfg: Config, secrets: Secrets, signer):
    """Redemption (actors/redeemer.py, live mode) has what it needs."""
    if not cfg.redeem.enabled:
        return WARN, "redemption off (redeem.enabled: false): resolved positions stay unredeemed"
    if secrets.signature_type == 0:
        ok, line = check_tcp("Polygon JSON-RPC (EOA redemption, gas in POL)", cfg.venue.polygon_rpc_url)
        return ok, line
    has_key = bool(secrets.relayer_api_key and secrets.relayer_api_key_address) or bool(
        secrets.builder_api_key and secrets.builder_secret and secrets.builder_passphrase)
    if not has_key:
        line = ("redemption: a gasless wallet (signature type {}) needs POLYCOPY_RELAYER_API_KEY and "
                "POLYCOPY_RELAYER_API_KEY_ADDRESS (or POLYCOPY_BUILDER_API_KEY, _SECRET, _PASSPHRASE), "
                "or redeem.enabled: false").format(secrets.signature_type)
        return FAIL, line
    kind = RELAYER_TYPES[secrets.signature_type]
    try:
        ans = probe.get(cfg.venue.relayer_url.rstrip("/") + "/deployed", {"address": signer.maker, "type": kind})
        deployed = ans.json()["deployed"] if ans.status_code == 200 else None
    except (TemporaryError, ValueError, KeyError, TypeError) as e:
        return FAIL, f"relayer unreachable at {cfg.venue.relayer_url}: {e}"
    if deployed is not True:
        if kind == "WALLET":
            return WARN, f"relayer: deposit wallet {signer.maker} not deployed yet (the SDK deploys it on first use)"
        return FAIL, f"relayer: wallet {signer.maker} is not deployed ({kind}); the SDK refuses to redeem for it"
    return OK, f"redemption: relayer key present, wallet {signer.maker} deployed ({kind})"


def run_checks(cfg: Config, secrets: Secrets) -> list[tuple]:
    v = cfg.venue
    out = [check_secrets(cfg, secrets), check_http("CLOB", v.clob_url, "/time")]
    clob_up = out[-1][0] is OK
    out += [check_http("Data API", v.data_api_url, "/v2/trades", {"limit": 1}, lambda b: parse_page(b, lambda row: row)),
            check_http("Gamma", v.gamma_url, "/markets/keyset", {"limit": 1}, parse_keyset),
            check_tcp("RTDS", v.rtds_url), check_tcp("CLOB market websocket", v.clob_ws_market_url),
            check_tcp("CLOB user websocket", v.clob_ws_user_url), check_geoblock(cfg)]
    if clob_up:  # otherwise the line above already says why
        out += [check_clock(cfg), check_version(cfg)]
    signer, wallet = make_signer(cfg, secrets)
    out.append(wallet)
    if cfg.mode is Mode.live and signer is not None and clob_up:
        out.append(check_funds(cfg, secrets, signer))
    if cfg.mode is Mode.live and signer is not None:
        out.append(check_redeem(cfg, secrets, signer))
    return out


def preflight(cfg: Config, secrets: Secrets) -> tuple[list[str], str]:
    """(the failed lines, the close-only reason the system must start with or "") for the runner at start."""
    results = run_checks(cfg, secrets)
    close_only = "region_close_only" if any(ok is CLOSE_ONLY for ok, _ in results) and cfg.mode is Mode.live else ""
    return [line for ok, line in results if ok is FAIL], close_only


def healthcheck(cfg: Config, secrets: Secrets) -> int:
    results = run_checks(cfg, secrets)
    for ok, line in results:
        print(f"{'ok  ' if ok is OK else 'FAIL' if ok is FAIL else 'warn'} {line}")
    return 0 if all(ok is not FAIL for ok, _ in results) else 1
