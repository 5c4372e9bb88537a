"""The backstop's poller: the source's fills from Data API v2 `/v2/trades` pages, each handed
out once.

A poll pages newest-first with the cursor down to a floor (the newest source timestamp seen
minus `lookback_s`; at start, `start_floor_s`), at most `max_pages` pages; numbers identical
fills per poll (wire/source_fill.py); and hands out only keys it has not handed out before.
The watermark (newest seen) never moves past now + `skew_s`: a row dated in the future must
not lift the floor over the fills that come after it. A row that does not parse costs no other
row; it is counted (`malformed`, `last_bad`) the first poll that lists it, not again each poll
that lists it again. When a poll takes more than one page, the
first page is read again: if it changed meanwhile (a cursor that counts rows from the top
would shift), only the first page is kept and the rest comes with the next poll.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import Callable

from polycopy.messages import SourceFill
from polycopy.wire.source_fill import fill_from_trade
from polycopy.wire.data_api import Page

MAX_PAGES = 10  # per poll: 1,000 fills within the look-back at the default page size
SKEW_S = 5  # how far past now the watermark may go (clock differences)

Fetch = Callable[[str | None], tuple[Page, int]]  # cursor -> (page, recv_mono_ns)


class TradesPoller:
    def __init__(self, wallet: str, lookback_s: int, start_floor_s: int, *, max_pages: int = MAX_PAGES,
                 skew_s: int = SKEW_S, clock: Callable[[], float] = time.time):
        self.wallet = wallet.lower()
        self.lookback_s, self.start_floor_s = lookback_s, start_floor_s
        self.max_pages, self.skew_s, self.clock = max_pages, skew_s, clock
        self.newest_s: int | None = None
        self.emitted: dict[str, int] = {}  # key -> source ts (s)
        self.malformed = 0
        self.last_bad: list = []  # the Malformed rows first listed by the last poll, for the log
        self._bad_listed: Counter = Counter()  # (kind, detail, excerpt) -> rows listed by the last poll
        self.unstable = 0  # multi-page polls cut back to the first page
        self.truncated = 0  # polls that stopped at max_pages above the floor

    def floor_s(self) -> int:
        return self.start_floor_s if self.newest_s is None else self.newest_s - self.lookback_s

    def poll(self, fetch: Fetch) -> list[SourceFill]:
        """Page down to the floor; return the fills not returned before."""
        floor, now = self.floor_s(), self.clock()
        first, ns = fetch(None)
        pages = [(first, ns)]
        page = first
        while page.next_cursor and _oldest(page) >= floor:
            if len(pages) >= self.max_pages:
                self.truncated += 1
                break
            page, ns = fetch(page.next_cursor)
            pages.append((page, ns))
        if len(pages) > 1:
            again, _ = fetch(None)
            if again.items != first.items:
                self.unstable += 1
                pages = pages[:1]
        self._count_bad([bad for p, _ in pages for bad in p.bad])
        return self._new_fills([(t, ns) for p, ns in pages for t in p.items], floor, now)

    def _count_bad(self, bad: list) -> None:
        listed: Counter = Counter()
        self.last_bad = []
        for e in bad:
            sig = (e.kind, e.detail, e.excerpt)
            listed[sig] += 1
            if listed[sig] > self._bad_listed[sig]:
                self.last_bad.append(e)
        self._bad_listed = listed
        self.malformed += len(self.last_bad)

    def _new_fills(self, rows: list, floor: int, now: float) -> list[SourceFill]:
        counts: dict[str, int] = {}

        def occurrence(base: str) -> int:
            counts[base] = counts.get(base, 0) + 1
            return counts[base] - 1

        out = []
        for trade, ns in rows:
            if trade.wallet != self.wallet or trade.ts_s < floor:
                continue
            fill = fill_from_trade(trade, feed="backstop", recv_mono_ns=ns, occurrence=occurrence)
            self.newest_s = max(self.newest_s or 0, min(trade.ts_s, int(now) + self.skew_s))
            if fill.key not in self.emitted:
                self.emitted[fill.key] = trade.ts_s
                out.append(fill)
        if len(self.emitted) > 1000:
            keep = self.floor_s() - 60
            self.emitted = {k: t for k, t in self.emitted.items() if t >= keep}
        return out


def _oldest(page: Page) -> int:
    return min((t.ts_s for t in page.items), default=0)
