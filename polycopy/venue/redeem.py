"""Redemption and merge through the official SDK (`polymarket-client` 0.14.0, through
venue/sdk.py).

Every call here is blocking network I/O, for the redeemer's I/O thread. Wire facts taken from
the SDK's code (VENUE-2026-12.md §2):
- `SecureClient.redeem_positions(condition_id=)` / `merge_positions(condition_id=, amount=)`
  (`clients/secure.py`) look the market up on Gamma `/markets/keyset` (redeem: `closed=true`,
  so a market Gamma does not call closed yet raises "No market found"), pick the pUSD collateral
  adapter of the market's kind (CTF markets, neg-risk included: `redeemPositions(pUSD, 0x0, cid,
  [1,2])`) or the Router for Protocol-v2 markets (`redeem(bytes31, outcome, amount)` per held
  outcome), and dispatch (`_dispatch_calls`): an EOA broadcasts a legacy transaction over the
  JSON-RPC (`_internal/eoa/broadcast.py`: chainId, pending nonce, gasPrice, estimateGas,
  sendRawTransaction), every other wallet submits one gasless transaction to the relayer
  (`_internal/actions/relayer/gasless.py` `prepare_gasless_transaction_sync`: nonce from
  `/relay-payload` (PROXY) or `/v1/account/transactions/params` (SAFE, WALLET), sign, `POST
  /submit`, retried on 429 and "wallet busy"; a transport error is not retried).
- A gasless transaction is followed with `GET /v1/account/transactions/{id}` (`relayer/poll.py`):
  STATE_CONFIRMED is success, STATE_FAILED / STATE_INVALID failure with `error_msg`; an EOA one
  by its receipt's `status`. We poll once per call (`status`): the actor decides when to ask again.
- Balances are read on chain through the SDK's JSON-RPC client (`eth_call`): pUSD `balanceOf`
  (0x70a08231; 6 decimals) and ERC-1155 `balanceOfBatch` on the market's position contract
  (CTF, the old NegRiskAdapter for neg-risk, PositionManager for v2:
  `relayer/positions.py` `normalize_market_position_context`).
- The nonce read before a submit (`nonce`) is the same read the SDK makes: a submit that went
  out moves it on, which is how a restart tells "sent" from "never sent" (actors/redeemer.py).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from eth_utils import to_checksum_address

from polycopy.errors import OperationalError, RejectedError, TemporaryError
from polycopy.venue.sdk import (PRODUCTION_CONFIG, ApiKeyCreds, BuilderApiKey, PolymarketError, RateLimitError,
                                RelayerApiKey, RelayerTransactionState, RelayerTransactionType, RequestRejectedError,
                                SdkTimeout, SecureClient, TransactionFailedError, TransportError, UserInputError,
                                create_environment, decode_erc1155_balance_of_batch_result,
                                erc1155_balance_of_batch_call, fetch_execute_params_sync, fetch_gasless_transaction_sync,
                                fetch_relay_payload_sync)

UNIT = Decimal(1_000_000)
BALANCE_OF = "0x70a08231"
NONCE_TYPES = {"POLY_PROXY": RelayerTransactionType.PROXY, "GNOSIS_SAFE": RelayerTransactionType.SAFE,
               "DEPOSIT_WALLET": RelayerTransactionType.WALLET}
DONE, FAILED, PENDING = "confirmed", "failed", "pending"


@dataclass(frozen=True, slots=True)
class Sent:
    tx_id: str  # the relayer's transaction id ("" for an EOA)
    tx_hash: str  # "" until known


@dataclass(frozen=True, slots=True)
class Positions:
    token_ids: tuple  # the market's two outcome ids, as the SDK resolved them
    shares: tuple  # shares held of each, on chain


def environment(*, clob_url: str, gamma_url: str, data_url: str, relayer_url: str, rpc_url: str, chain_id: int):
    """The SDK's production environment with our hosts (its environment API is private; the hosts
    come from config.venue, so --sim points every one at polysim)."""
    config = dataclasses.replace(PRODUCTION_CONFIG, clob_url=clob_url.rstrip("/"), gamma_url=gamma_url.rstrip("/"),
                                 data_url=data_url.rstrip("/"), relayer_url=relayer_url.rstrip("/"), rpc_url=rpc_url,
                                 chain_id=chain_id)
    return create_environment(name="polycopy", config=config)


def api_key_of(secrets):
    """The relayer credential from the secrets, or None: a Relayer API key (key + its owner's
    address) first, else a Builder key (key, secret, passphrase)."""
    if secrets.relayer_api_key and secrets.relayer_api_key_address:
        return RelayerApiKey(key=secrets.relayer_api_key.get_secret_value(), address=secrets.relayer_api_key_address)
    if secrets.builder_api_key and secrets.builder_secret and secrets.builder_passphrase:
        return BuilderApiKey(key=secrets.builder_api_key.get_secret_value(),
                             secret=secrets.builder_secret.get_secret_value(),
                             passphrase=secrets.builder_passphrase.get_secret_value())
    return None


class SdkRedeemer:
    """One wallet's redemptions. Built on the I/O thread (`create` talks to the CLOB and, for a
    gasless wallet, the relayer's `/deployed`)."""

    def __init__(self, client: SecureClient):
        self.client = client
        self.ctx = client._ctx  # the SDK's transports (relayer, rpc) for the one-shot reads below
        self.wallet_type = str(self.ctx.wallet_type)

    @classmethod
    def create(cls, *, private_key: str, wallet: str, env, creds=None, api_key=None) -> "SdkRedeemer":
        credentials = (ApiKeyCreds.model_validate({"apiKey": creds.key, "secret": creds.secret,
                                                   "passphrase": creds.passphrase}) if creds else None)
        return cls(_sdk(lambda: SecureClient.create(private_key=private_key, wallet=wallet, environment=env,
                                                   credentials=credentials, api_key=api_key)))

    @property
    def gasless(self) -> bool:
        return self.wallet_type != "EOA"

    @property
    def wallet(self) -> str:
        return str(self.ctx.wallet)

    # ------------------------------------------------------------ reads

    def positions(self, condition_id: str) -> Positions:
        """Our shares of both outcomes of a market, on chain (the market from Gamma, closed or not)."""
        def read():
            m = self.client._resolve_market_position_context(condition_id=condition_id)
            call = erc1155_balance_of_batch_call(token_address=m.position_erc1155_address,
                                                 owners=[self.ctx.wallet, self.ctx.wallet],
                                                 token_ids=[str(t) for t in m.token_ids])
            raw = decode_erc1155_balance_of_batch_result(self.ctx.rpc.eth_call(to=str(call.to), data=call.data))
            return Positions(tuple(str(t) for t in m.token_ids), tuple(Decimal(x) / UNIT for x in raw))
        return _sdk(read)

    def pusd(self) -> Decimal:
        """The wallet's pUSD balance on chain."""
        data = BALANCE_OF + to_checksum_address(self.wallet)[2:].lower().rjust(64, "0")
        token = self.ctx.environment_config.collateral_token
        return _sdk(lambda: Decimal(int(self.ctx.rpc.eth_call(to=token, data=data), 16)) / UNIT)

    def nonce(self) -> int:
        """The nonce the next submit will use (relayer) or the pending transaction count (EOA)."""
        signer = self.ctx.signer.address
        if not self.gasless:
            return _sdk(lambda: self.ctx.rpc.eth_get_transaction_count(signer))
        kind = NONCE_TYPES[self.wallet_type]
        fetch = fetch_relay_payload_sync if kind is RelayerTransactionType.PROXY else fetch_execute_params_sync
        return _sdk(lambda: int(fetch(self.ctx.relayer, address=signer, type=kind).nonce))

    def gas_price_gwei(self) -> Decimal:
        return _sdk(lambda: Decimal(self.ctx.rpc.eth_gas_price()) / Decimal(10**9))

    # ------------------------------------------------------------ writes

    def redeem(self, condition_id: str) -> Sent:
        return _sent(_sdk(lambda: self.client.redeem_positions(condition_id=condition_id)))

    def merge(self, condition_id: str, amount_units: int) -> Sent:
        return _sent(_sdk(lambda: self.client.merge_positions(condition_id=condition_id, amount=amount_units)))

    def status(self, sent: Sent) -> tuple[str, str, str]:
        """(confirmed | failed | pending, tx hash, error message), one read."""
        if sent.tx_id:
            tx = _sdk(lambda: fetch_gasless_transaction_sync(self.ctx.relayer, transaction_id=sent.tx_id))
            tx_hash = tx.transaction_hash or sent.tx_hash
            if tx.state == RelayerTransactionState.CONFIRMED:
                return DONE, tx_hash, ""
            if tx.state in (RelayerTransactionState.FAILED, RelayerTransactionState.INVALID):
                return FAILED, tx_hash, (tx.error_msg or str(tx.state))[:300]
            return PENDING, tx_hash, ""
        receipt = _sdk(lambda: self.ctx.rpc.eth_get_transaction_receipt(sent.tx_hash))
        if receipt is None:
            return PENDING, sent.tx_hash, ""
        ok = receipt.get("status") in ("0x1", 1)
        return (DONE, sent.tx_hash, "") if ok else (FAILED, sent.tx_hash, "reverted")

    def close(self) -> None:
        self.client.close()


def _sent(handle) -> Sent:
    return Sent(tx_id=str(handle.transaction_id or ""), tx_hash=str(handle.transaction_hash or ""))


def _sdk(fn):
    """Run an SDK call; its errors become ours: temporary (network, 429, 5xx, timeouts), rejected
    (the SDK or the venue said no: a failed transaction, no market, nothing to redeem)."""
    try:
        return fn()
    except (TransportError, RateLimitError, SdkTimeout) as e:
        raise TemporaryError(f"{type(e).__name__}: {str(e)[:300]}") from None
    except RequestRejectedError as e:
        if e.status >= 500 or e.status == 429:
            raise TemporaryError(f"HTTP {e.status}: {str(e)[:300]}") from None
        if e.status in (401, 403):
            raise OperationalError(f"HTTP {e.status}: {str(e)[:300]}") from None
        raise RejectedError(f"HTTP {e.status}: {str(e)[:300]}") from None
    except (TransactionFailedError, UserInputError) as e:
        raise RejectedError(f"{type(e).__name__}: {str(e)[:300]}") from None
    except PolymarketError as e:
        raise TemporaryError(f"{type(e).__name__}: {str(e)[:300]}") from None
