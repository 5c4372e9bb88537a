"""Hostile input for the bot's parsers: malformed RTDS frames and Data API rows (issue 14).

Each hostile item is built from a good one (so it carries the source wallet and passes a wallet
filter) but under a transaction hash of its own, derived from the good one's: a bot that
accepts one copies a fill nobody made, which the records show, and the same bad row comes back
on every poll. Kinds:

RTDS frames (`FRAME_KINDS`): `huge_exponent` size "1e999999999"; `huge_number` size written as
the JSON number 1e999999999; `deep_nesting` 100,000 nested arrays inside the payload;
`huge_timestamp` timestamp 1e20; `not_json`; `wrong_types` (size an object, price a list, side
a number, timestamp a word); `null_payload`; `oversize` (a 2 MiB title in an otherwise good
frame).
Data API rows (`ROW_KINDS`): `future` (dated a day ahead, listed first), `huge_size`,
`huge_timestamp`, `wrong_types`, `missing_fields`, `not_object`; all but `future` go between
the first and second good rows.
"""
from __future__ import annotations

import json

from eth_utils import keccak

from polycopy.sim.wire import dumps as _json  # Decimal-aware

FRAME_KINDS = ("huge_exponent", "huge_number", "deep_nesting", "huge_timestamp", "not_json",
               "wrong_types", "null_payload", "oversize")
ROW_KINDS = ("future", "huge_size", "huge_timestamp", "wrong_types", "missing_fields",
             "not_object")
DEPTH = 100_000
OVERSIZE = 2 * 1024 * 1024


def _hash(seed: str, kind: str) -> str:
    return "0x" + keccak(text=f"hostile:{kind}:{seed}").hex()


def hostile_frame(kind: str, topic: str, rtds_type: str, payload: dict, ts_ms: int) -> str:
    """The text of one hostile RTDS frame, modelled on the good `payload`; the sender puts
    `connection_id` before the closing brace (all but `not_json` are complete JSON)."""
    bad = {**payload, "transactionHash": _hash(str(payload.get("transactionHash")), kind)}
    head = f'{{"topic":"{topic}","type":"{rtds_type}","timestamp":{ts_ms},"payload":'
    if kind == "not_json":
        return head + '{"proxyWallet": "' + str(payload.get("proxyWallet")) + '", size: oops'
    if kind == "deep_nesting":
        body = _json({**bad, "size": 0})[:-1] + ',"nest":' + "[" * DEPTH + "]" * DEPTH + "}"
        return head + body + "}"
    if kind == "huge_exponent":
        bad["size"] = "1e999999999"
    elif kind == "huge_number":
        return head + _json({**bad, "size": 7}).replace('"size":7', '"size":1e999999999') + "}"
    elif kind == "huge_timestamp":
        bad["timestamp"] = 10**20
    elif kind == "wrong_types":
        bad.update(size={"shares": 5}, price=[0.5], side=7, timestamp="soon", outcomeIndex="x")
    elif kind == "null_payload":
        return head + "null}"
    elif kind == "oversize":
        bad["title"] = "x" * OVERSIZE
    else:
        raise ValueError(f"unknown hostile frame kind {kind!r}")
    return head + _json(bad) + "}"


def hostile_rows(rows: list, kinds: list[str], clock, v2: bool) -> list:
    """`rows` (newest first) with the hostile `kinds` mixed in; unchanged when there is no good
    row to model them on."""
    if not rows:
        return rows
    model = rows[0]
    keys = ("proxy_wallet", "transaction_hash", "timestamp") if v2 else (
        "proxyWallet", "transactionHash", "timestamp")
    wallet, tx, ts = keys
    out = list(rows)
    first = []
    for kind in kinds:
        bad = {**model, tx: _hash(str(model.get(tx)), kind)}
        if kind == "future":
            bad[ts] = int(clock.unix(clock.t())) + 86_400
            first.append(bad)
            continue
        if kind == "huge_size":
            bad["size"] = "1e999999999"
        elif kind == "huge_timestamp":
            bad[ts] = 10**20
        elif kind == "wrong_types":
            bad.update(size={"shares": 5}, price=[0.5], side=7)
            bad[ts] = "soon"
        elif kind == "missing_fields":
            bad = {wallet: model.get(wallet), tx: bad[tx]}
        elif kind == "not_object":
            bad = f"garbage row {json.dumps(bad[tx])}"
        else:
            raise ValueError(f"unknown hostile row kind {kind!r}")
        out.insert(min(1, len(out)), bad)
    return first + out
