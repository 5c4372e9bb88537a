"""The design public copy bots use: poll the Data API for the source's trades every second and
post a marketable order for each new one. A thread, with its own key (Hardhat #1, funded by the
bench scenarios) and API key, so its orders are told apart at polysim.

It reuses polycopy's order code (plan, sign, post) so the comparison is about detection and
structure, not about the order client. It busts the Data API cache (a `_` parameter), which
the public bots often do not (they would then wait minutes).
"""
from __future__ import annotations

import threading
import time
from decimal import Decimal

from polycopy.clients.clob_rest import ClobRest
from polycopy.clients.data_api import DataApi
from polycopy.venue import clob
from polycopy.venue.orders import PlanRejected, plan_order
from polycopy.wire.source_fill import fill_from_trade

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # Hardhat #1, public
TICK = Decimal("0.01")


class PollCopier:
    def __init__(self, data_api: str, clob_url: str, wallet: str, interval_s: float = 1.0):
        self.data_api, self.wallet, self.interval_s = data_api.rstrip("/"), wallet.lower(), interval_s
        self.signer = clob.ClobSigner(KEY, chain_id=137)
        self.rest = ClobRest(clob_url)
        self.creds = self.rest.create_or_derive_api_key(self.signer)
        self.rest.creds, self.rest.address = self.creds, self.signer.address
        self.seen: set[str] = set()
        self.copies: dict[str, str] = {}  # source fill key -> order id
        self.errors = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="poll-copier", daemon=True)
        self.data = DataApi(data_api, 3.0)
        self.primed = False

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            t0 = time.monotonic()
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - a benchmark stand-in: count and keep polling
                self.errors += 1
            self.stop_event.wait(max(0.0, self.interval_s - (time.monotonic() - t0)))

    def poll(self) -> None:
        page, _ = self.data.trades(self.wallet, 100, None, time.monotonic() + 3, time.time())
        counts: dict[str, int] = {}

        def occurrence(base: str) -> int:
            counts[base] = counts.get(base, 0) + 1
            return counts[base] - 1

        fresh = []
        for trade in reversed(page.items):  # oldest first
            f = fill_from_trade(trade, feed="poll", recv_mono_ns=time.monotonic_ns(), occurrence=occurrence)
            if f.key not in self.seen:
                self.seen.add(f.key)
                fresh.append(f)
        if not self.primed:  # what was there before the start is history, not something to copy
            self.primed = True
            return
        for f in fresh:
            self.copy(f)

    def copy(self, f) -> None:
        if f.side != "BUY":
            return
        price = min(Decimal("0.99"), (f.price * Decimal("1.5")).quantize(TICK))  # marketable, like polycopy's FAK
        try:
            plan = plan_order(token_id=f.token_id, side="BUY", size=f.size, price=price, tick=TICK,
                              min_size=Decimal("5"), order_type="FAK")
        except PlanRejected:
            return
        signed = self.signer.sign(plan, version=clob.version_of(f.token_id))
        self.copies[f.key] = signed.order_id
        self.rest.post_order(clob.post_body(signed, self.creds.key))
