"""When a repeated source fill is a second fill, and when it is the same fill delivered twice.

A fill's key is `tx|token|side|price|size|occurrence` (wire/source_fill numbering): each delivery
stream numbers identical fills of one transaction 0, 1, 2, ... Intake treats keys as a multiset:
a key is new exactly once, whichever stream brings it.

Two things look alike and must not be confused:
- a transaction can hold genuinely identical fills of the source (PROTOCOL.md §1.6): two fills,
  two copies;
- a stream can deliver the same frame twice (RTDS does, on one connection): one fill, one copy.
A stream that delivered a frame twice numbers the repeat occurrence 1, exactly like a genuine
second fill. So the rule:

- **occurrence 0** is copied at once, from any stream (the fast path pays nothing);
- **occurrence k >= 1** is copied at once only when an *authoritative* stream reports it: the
  Data API backstop, which lists the transaction's rows from the venue's own records (each
  poll numbers them afresh, so a repeat there is a real row). Reported by RTDS alone it is
  stored as `unconfirmed` and copied when the backstop lists the same key; never otherwise.
  RTDS's two subscription types do not corroborate each other: one duplicated delivery may
  reach both.

The price: a genuine second identical fill seen first on RTDS is copied when the backstop lists
it (its lag, ~5 s with a 1 s poll) instead of at once. A delivered-twice frame is never copied
twice, under any order of deliveries, reconnects or restarts (unconfirmed keys are stored and
reloaded). If the backstop never lists it, it is counted as an uncorroborated repeat, and the
reconciler sees the drift in positions.
Mempool (provisional) fills and unwinds have keys of their own and are not numbered this way.
"""
from __future__ import annotations

AUTHORITATIVE = frozenset({"backstop"})
UNNUMBERED = ("pending|", "unwind|")


def occurrence(key: str) -> int:
    """The occurrence number at the end of a fill key (0 when the key carries none)."""
    tail = key.rsplit("|", 1)[-1]
    return int(tail) if tail.isdigit() and not key.startswith(UNNUMBERED) else 0


def needs_corroboration(fill) -> bool:
    """A repeat that only a non-authoritative stream reported so far."""
    return not fill.provisional and fill.feed not in AUTHORITATIVE and occurrence(fill.key) >= 1


def corroborates(fill) -> bool:
    """Does this delivery confirm a stored unconfirmed repeat with the same key?"""
    return fill.feed in AUTHORITATIVE
