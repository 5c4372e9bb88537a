"""Replay a recorded source feed (`run.py --record FILE`) with its timing.

The file is JSONL, one line per received item (polycopy/ops/recording.py):
`{"recv_ms": <ms>, "text": "<raw RTDS frame>"}` (or `"frame": {...}`), and
`{"recv_ms": <ms>, "backstop_row": {...}}` for a Data API `/trades` row. Non-JSON frame text
("", "PONG") and frames without a payload are skipped. Item i is played
`replay_delay_s + (recv_ms[i] - recv_ms[0]) / 1000` s after the scenario start (with `shift`:
after the first RTDS client connected, see below). An RTDS frame is broadcast with a fresh
envelope timestamp and connection id; a backstop row becomes visible on the Data API
`/trades` at once (the recording already holds the Data API's lag).

Markets named in the recording (conditionId, asset, outcome, slug) are added to polysim's
catalog (Gamma) and venue; a token never seen gets a synthetic id. End time: a 15-minute
slug's rule (start + 900), else one day after the replay starts. Synthetic book: when a source
frame at price p goes out, its token's book becomes asks p, p+tick, ... and bids p-tick,
p-2*tick, ... (SYNTH_LEVELS levels of SYNTH_SIZE shares), so a paper copy fills at the
source's price (BUY) or one tick below (SELL).

With `shift` (`--replay`), the replay waits for the first RTDS client, starts `replay_delay_s`
after it and is moved to then: every source `timestamp` and the start in every 15-minute slug
move by the same whole seconds (the replay start minus the first `recv_ms`). Token and
condition ids stay, so fill keys and intent ids are those of the recorded run; what a decision
compares with the clock (fill age, time to the market's end, its 15-minute window) is as it
was. Slugs then no longer fall on :00/:15/:30/:45.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

from polycopy.sim.feed import Clock, Feed, fill_key
from polycopy.sim.markets import WINDOW_S, token_id
from polycopy.sim.model import SimMarket
from polycopy.sim.wire import Fill, Profile

log = logging.getLogger(__name__)
SYNTH_LEVELS = 5
SYNTH_SIZE = Decimal("1000")
DAY_S = 86_400
_UPDOWN = re.compile(r"^(?P<asset>[a-z0-9]+)-updown-15m-(?P<start>\d{9,11})$")
_PAIRS = (["Up", "Down"], ["Yes", "No"])


def load_items(path: str | Path) -> tuple[float, list[tuple[float, str, dict]]]:
    """(first recv_ms, [(seconds after it, "frame" | "row", frame or row), ...]).
    Raises ValueError naming the line."""
    out, t0 = [], None
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line, parse_float=Decimal)
            recv_ms = float(entry["recv_ms"])
            if "backstop_row" in entry:
                kind, item = "row", entry["backstop_row"]
            else:
                kind = "frame"
                item = entry["frame"] if "frame" in entry else json.loads(entry["text"], parse_float=Decimal)
        except json.JSONDecodeError:
            if '"text"' in line:
                continue  # a recorded non-JSON frame ("", "PONG")
            raise ValueError(f"{path}:{n}: not JSON") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a recorded frame or row ({exc})") from None
        if not isinstance(item, dict) or (kind == "frame" and not isinstance(item.get("payload"), dict)):
            continue
        t0 = recv_ms if t0 is None else t0
        out.append(((recv_ms - t0) / 1000, kind, item))
    return (t0 or 0.0), out


def load(path: str | Path) -> list[tuple[float, dict]]:
    """The RTDS frames only: [(seconds after the first item, frame), ...]."""
    return [(t, item) for t, kind, item in load_items(path)[1] if kind == "frame"]


def shifted_slug(slug: str, shift_s: int) -> str:
    m = _UPDOWN.match(slug or "")
    return f"{m['asset']}-updown-15m-{int(m['start']) + shift_s}" if m and shift_s else slug


def recorded_markets(items, shift_s: int, start_unix: float) -> list[SimMarket]:
    """One SimMarket per conditionId in the recording (frames' payloads and backstop rows)."""
    seen: dict[str, dict] = {}
    for _, kind, item in items:
        p = item["payload"] if kind == "frame" else item
        cid, token = str(p.get("conditionId", "")), str(p.get("asset", ""))
        if not cid or not token:
            continue
        m = seen.setdefault(cid, {"slug": str(p.get("slug") or cid), "title": str(p.get("title") or ""),
                                  "tokens": {}})
        m["tokens"].setdefault(str(p.get("outcome") or f"outcome{len(m['tokens'])}"), token)
    out = []
    for cid, m in seen.items():
        slug = shifted_slug(m["slug"], shift_s)
        names = list(m["tokens"])
        outcomes = next((pair for pair in _PAIRS if set(names) <= set(pair)), names)
        if len(outcomes) < 2:
            outcomes = outcomes + [f"not {outcomes[0]}"]
        tokens = [m["tokens"].get(o) or token_id(slug, o) for o in outcomes]
        start = _UPDOWN.match(slug)
        end = int(start["start"]) + WINDOW_S if start else int(start_unix) + DAY_S
        out.append(SimMarket(condition_id=cid, question=m["title"] or slug, slug=slug, event_slug=slug,
                             tokens=tokens, outcomes=outcomes, start_ts=end - DAY_S, end_ts=end))
    return out


class Replay:
    def __init__(self, path: str | Path, feed: Feed, rtds, clock: Clock, delay_s: float = 0,
                 catalog=None, venue=None, shift: bool = False):
        self.t0_ms, self.items = load_items(path)
        self.feed, self.rtds, self.clock, self.venue, self.catalog = feed, rtds, clock, venue, catalog
        self.delay_s, self.shift = delay_s, shift
        self.shift_s = 0
        self.seen: Counter = Counter()
        self.recorded: Counter = Counter()
        self.book_price: dict[str, Decimal] = {}
        if not shift:
            self._add_markets()

    def _add_markets(self) -> None:
        if self.catalog is None:
            return
        for market in recorded_markets(self.items, self.shift_s, self.clock.unix(self.clock.t())):
            if market.condition_id not in self.catalog.by_cid:
                self.catalog._add(market, icon="")  # on_add registers it with the venue too

    async def run(self) -> None:
        origin = self.delay_s
        if self.shift:  # --replay: start once the bot listens, and move the recording to then
            while not self.rtds.conns:
                await asyncio.sleep(0.05)
            origin = self.clock.t() + self.delay_s
            self.shift_s = round(self.clock.unix(origin) - self.t0_ms / 1000) if self.items else 0
            self._add_markets()
            log.info("polysim replay: %d items from t+%.1fs, moved by %ds", len(self.items), origin, self.shift_s)
        for t, kind, item in self.items:
            t += origin
            delay = t - self.clock.t()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                self._row(item, t) if kind == "row" else self._frame(item, t)
            except (KeyError, ValueError, ArithmeticError) as exc:  # one odd item must not end the replay
                log.warning("polysim replay: skipping an item at %.3fs: %s", t, exc)
        log.info("polysim replay: finished (%d items)", len(self.items))

    def _moved(self, p: dict) -> dict:
        if not self.shift_s:
            return p
        p = dict(p)
        ts = p.get("timestamp")
        if isinstance(ts, (int, Decimal)) or (isinstance(ts, str) and ts.isdigit()):
            p["timestamp"] = int(ts) + (self.shift_s * 1000 if int(ts) > 10**12 else self.shift_s)
        for key in ("slug", "eventSlug"):
            if key in p:
                p[key] = shifted_slug(str(p[key]), self.shift_s)
        return p

    def _frame(self, frame: dict, t: float) -> None:
        payload = self._moved(frame["payload"])
        if str(payload.get("proxyWallet", "")).lower() == self.feed.source_wallet:
            self._book(str(payload.get("asset", "")), payload.get("price"))
            self._record(payload, t, frame.get("type", ""))
        self.rtds.broadcast(frame.get("topic", "activity"), frame.get("type", "trades"), payload)

    def _book(self, token: str, price) -> None:
        if self.venue is None or self.catalog is None or token not in self.catalog.by_token:
            return
        try:
            p = Decimal(str(price))
        except ArithmeticError:
            return
        if not 0 < p < 1 or self.book_price.get(token) == p:
            return
        self.book_price[token] = p
        tick = self.catalog.by_token[token].market.tick_size
        asks = [(p + i * tick, SYNTH_SIZE) for i in range(SYNTH_LEVELS) if p + i * tick < 1]
        bids = [(p - (i + 1) * tick, SYNTH_SIZE) for i in range(SYNTH_LEVELS) if p - (i + 1) * tick > 0]
        self.venue.set_book(token, bids=bids, asks=asks)

    def _row(self, row: dict, t: float) -> None:
        """A backstop row, visible on the Data API from now on."""
        row = self._moved(row)
        info = self.catalog.by_cid[str(row["conditionId"])] if self.catalog is not None else None
        if info is None:
            return
        wallet = str(row["proxyWallet"]).lower()
        profile = Profile(wallet, str(row.get("name") or ""), str(row.get("pseudonym") or ""))
        visible_ns = self.clock.mono_ns(t) - self.feed.faults.data_api_lag_ms * 1_000_000
        fill = Fill(profile, info, str(row["asset"]), str(row["side"]), Decimal(str(row["price"])),
                    Decimal(str(row["size"])), "taker", str(row.get("transactionHash", "")),
                    int(row["timestamp"]), visible_ns, is_source=wallet == self.feed.source_wallet)
        self.feed.rows.append(fill)
        self.feed.by_wallet.setdefault(wallet, type(self.feed.rows)(maxlen=5_000)).append(fill)

    def _record(self, p: dict, t: float, kind: str) -> None:
        """One record per source fill, though it may arrive under both types."""
        base = (p.get("transactionHash", ""), str(p.get("asset", "")), p.get("side", ""),
                str(p.get("price", "")), str(p.get("size", "")))
        occurrence = self.seen[(kind,) + base]
        self.seen[(kind,) + base] += 1
        if occurrence < self.recorded[base]:
            return
        self.recorded[base] += 1
        self.feed.records.append({
            "fill_key": fill_key(*base, occurrence), "token_id": base[1],
            "sched_mono_ns": self.clock.mono_ns(t), "tx_hash": base[0], "side": base[2],
            "price": base[3], "size": base[4], "role": "", "slug": p.get("slug", ""),
            "condition_id": p.get("conditionId", ""), "outcome": p.get("outcome", ""),
            "timestamp": p.get("timestamp")})
