"""Ledger: the pUSD balance as state, and the profit and loss. Off the hot path.

Balance (live mode): `GET /balance-allowance` at start, every `capital.balance_poll_s`, and at
once when the redeemer says a payout landed (`RefreshBalance`). Each read goes to risk as a
`BalanceSeen` stamped with the instant its request left (policy/balance.py explains why that
instant, and only reads from this one source, keep two intents from spending the same dollars).
An alert fires while the balance is below `capital.low_balance_alert_usd`.

A small actor of its own rather than the redeemer's job: the balance must be read with
redemption off too, and never wait behind a redemption the SDK is following for minutes.

PnL (paper and live), every `capital.pnl_interval_s`: our fills from the executor's journal and
our redemptions (store/redemptions.py); the source's trades, redemptions and merges on the same
markets from the Data API v2 (`/v2/activity`), and what each wallet holds and its price from
`/v2/positions`; computed by policy/pnl.py, written to `pnl_markets` (store/pnl.py) and sent to
telemetry (`--status`, metrics, the live view). A resolved market we hold nothing of any more is
final (its payouts are fixed; the source can only move money from unredeemed to redeemed there):
its row stays and it is not read again.
"""
from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from polycopy import bootstrap
from polycopy.actors.base import ChildActor
from polycopy.actors.io_jobs import JobsActor
from polycopy.actors.ledger_books import gather_ours, pnl_rows, read_source
from polycopy.clients.data_api import DataApi
from polycopy.config.models import Mode
from polycopy.messages import Alert, BalanceSeen, CapitalReport, Redeemed, RefreshBalance
from polycopy.policy.pnl import q
from polycopy.store import pnl as pnl_store
from polycopy.store import redemptions
from polycopy.store.db import open_db

BALANCE, PNL, CONNECT = "ledger-balance", "ledger-pnl", "ledger-connect"
CONNECT_RETRY_S = 15.0
MAX_CURVE = 720  # balance readings kept for the status (an hour at 5 s)


class Ledger(JobsActor, ChildActor):
    role = "ledger"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.db = self.jobs = self.reader = self.data = None
        self.wallet = ""
        self.balance: Decimal | None = None
        self.allowance: Decimal | None = None
        self.curve: list = []  # (unix s, balance)
        self.reading = self.computing = False
        self.final: set[str] = set()  # conditions whose PnL no longer moves
        self.pnl: dict = {}
        self.low = False

    def make_reader(self):
        return bootstrap.balance_reader(self.config)

    def make_wallet(self) -> str:
        return bootstrap.our_wallet(self.config) if self.live else ""

    def make_data(self) -> DataApi:
        return DataApi(self.config.venue.data_api_url, self.config.capital.http_timeout_ms / 1000)

    @property
    def live(self) -> bool:
        return self.config.execution.mode is Mode.live

    # ------------------------------------------------------------ lifecycle

    def on_init(self, msg) -> None:
        self.db = open_db(self.config.store.path, self.config.store.synchronous)
        pnl_store.ensure(self.db)
        redemptions.ensure(self.db)
        self.final = {r["condition_id"] for r in pnl_store.load(self.db)
                      if r["resolved"] and Decimal(r["ours_value"]) == 0}
        self.data = self.make_data()
        self.wallet = self.make_wallet()  # whose positions the venue lists as ours (live)
        self.start_jobs("ledger-io")
        if self.live:
            self.jobs.submit("connect", self.make_reader, urgent=True)
        self.wakeupAfter(timedelta(seconds=min(5.0, self.config.capital.pnl_interval_s)), payload=PNL)

    # ------------------------------------------------------------ messages and timers

    def receiveMsg_RefreshBalance(self, msg: RefreshBalance, sender) -> None:
        self._read_balance()

    def receiveMsg_Redeemed(self, msg: Redeemed, sender) -> None:
        self.final.discard(msg.condition_id)  # its books changed: read it again

    def on_wakeup(self, payload) -> None:
        if payload == BALANCE:
            self._read_balance()
            self.wakeupAfter(timedelta(seconds=self.config.capital.balance_poll_s), payload=BALANCE)
        elif payload == PNL:
            self._compute_pnl()
            self.wakeupAfter(timedelta(seconds=self.config.capital.pnl_interval_s), payload=PNL)
        elif payload == CONNECT:
            self.jobs.submit("connect", self.make_reader, urgent=True)

    def _read_balance(self) -> None:
        if self.reader is None or self.reading:
            return
        self.reading = True
        reader = self.reader
        self.jobs.submit("balance", lambda: (time.monotonic_ns(), reader.read()), urgent=True)

    def _compute_pnl(self) -> None:
        if self.computing:
            return
        mode = self.config.execution.mode.value
        ours = gather_ours(self.db, mode, self.final)
        if not ours:
            return self._send_report()
        self.computing = True
        wallet = self.wallet
        source = self.config.copy.source_wallet
        data, clob = self.data, self.config.venue.clob_url
        self.jobs.submit("pnl", lambda: (ours, read_source(data, source, wallet, ours, clob)))

    # ------------------------------------------------------------ results

    def receiveMsg_WatchMessage(self, msg, sender) -> None:
        if self.jobs is None:
            return
        for tag, result, error in self.jobs.drain():
            if tag == "connect":
                self._connected(result, error)
            elif tag == "balance":
                self.reading = False
                self._balance(result, error)
            elif tag == "pnl":
                self.computing = False
                self._pnl(result, error)

    def _connected(self, reader, error) -> None:
        if error is not None:
            self.log.warning("balance reads not available yet: {}; retry in {:.0f}s", error, CONNECT_RETRY_S)
            self.wakeupAfter(timedelta(seconds=CONNECT_RETRY_S), payload=CONNECT)
            return
        self.reader = reader
        self.on_wakeup(BALANCE)

    def _balance(self, result, error) -> None:
        if error is not None:
            self.log.warning("balance read failed: {}", error)
            return
        asked_ns, ba = result
        self.balance, self.allowance = ba.balance_usd, ba.allowance_usd
        self.curve.append((round(time.time(), 1), str(ba.balance_usd)))
        del self.curve[:-MAX_CURVE]
        self.tell("risk", BalanceSeen(balance_usd=ba.balance_usd, allowance_usd=ba.allowance_usd,
                                      asked_mono_ns=asked_ns, source="ledger"))
        floor = self.config.capital.low_balance_alert_usd
        low = ba.balance_usd < floor
        if low != self.low:
            self.low = low
            text = (f"pUSD balance {ba.balance_usd:.2f} is below {floor}" if low
                    else f"pUSD balance {ba.balance_usd:.2f} is back above {floor}")
            self.report(Alert(condition="low_balance", text=text, resolved=not low))
        self._send_report()

    def _pnl(self, result, error) -> None:
        if error is not None:
            self.log.warning("PnL not computed this round: {}", error)
            return
        ours, source = result
        rows = pnl_rows(ours, source, self.config.sizing.size_multiplier)
        pnl_store.save(self.db, rows)
        for r in rows:
            if r.resolved and r.ours.value == 0:  # redeemed or lost: nothing of ours moves any more
                self.final.add(r.condition_id)
        self._send_report()

    def _send_report(self) -> None:
        stored = pnl_store.load(self.db)
        t = totals_of(stored)
        self.pnl = t
        self.report(CapitalReport(report={
            "balance_usd": None if self.balance is None else str(self.balance),
            "allowance_usd": None if self.allowance is None else str(self.allowance),
            "balance_curve": self.curve[-30:], "pnl": t, "markets": len(stored),
            "redemptions": redemptions.summary(self.db),
        }))


def totals_of(stored: list[dict]) -> dict:
    """Flat totals from the stored rows (the Telegram /pnl lists them as they are)."""
    out = {}
    for who in ("ours", "source"):
        for k in ("total", "realised", "unrealised", "cost", "fees", "redeemed", "unredeemed"):
            out[f"{who}_{k}"] = str(q(pnl_store.total(stored, f"{who}_{k}")))
    out["tracking_error"] = str(q(pnl_store.total(stored, "tracking_error")))
    return out
