"""What a hot-path message costs to serialise, per hop: pickle (Thespian's and the lane's fallback)
against the lane's msgspec codec, and a MAC per frame (the lane's optional mode 1). Microseconds, p50 of many.

The messages are the hot path's, built like the pipeline builds them: a FillBatch of 1 and of
16 fills with their Market, a CopyIntent, and the ApprovedIntent that carries it. `cold_us`
times the one-fill batch's codecs once after each 5 ms sleep, as an actor paced at 200/s runs
them: on a shared 2-core machine the same code is several times slower cold than in a loop.
"""
from __future__ import annotations

import pickle
import statistics
import time
from decimal import Decimal

from bench.floor_actors import FILL, MARKET
from polycopy.lane import frames
from polycopy.lane.codec import Codec
from polycopy.messages import ApprovedBatch, ApprovedIntent, CopyIntent, FillBatch, IntentBatch, OrderOutcome

REPEAT = 2000


def samples() -> dict:
    fills16 = tuple(FILL.__class__(**{**{f: getattr(FILL, f) for f in FILL.__dataclass_fields__},
                                      "key": FILL.key[:-1] + str(i)}) for i in range(16))
    intent = CopyIntent(intent_id="i" * 64, token_id=FILL.token_id, condition_id=MARKET.condition_id, side="BUY",
                        size=Decimal("12.5"), source_price=Decimal("0.53"), source_size=Decimal("12.5"),
                        fill_keys=(FILL.key,), first_recv_mono_ns=1, source_ts_ms=2, reason="leading", market=MARKET)
    approved = ApprovedIntent(intent=intent, size=Decimal("12.5"), max_notional_usd=Decimal("6.625"),
                              decision="approved")
    return {"FillBatch_1": FillBatch(fills=(FILL,), sent_ns=1, market=MARKET),
            "FillBatch_16": FillBatch(fills=fills16, sent_ns=1, market=MARKET),
            "CopyIntent": intent,
            "ApprovedIntent": approved,
            "IntentBatch_4": IntentBatch(intents=(intent,) * 4),
            "ApprovedBatch_4": ApprovedBatch(items=(approved,) * 4),
            "OrderOutcome": OrderOutcome(intent_id="i" * 64, order_id="0x" + "ab" * 32, status="filled",
                                         filled_size=Decimal("12.5"), filled_notional_usd=Decimal("6.625"),
                                         token_id=FILL.token_id, condition_id=MARKET.condition_id, side="BUY")}


def _us(fn, repeat: int = REPEAT, sleep_s: float = 0.0) -> float:
    for _ in range(50):
        fn()
    times = []
    for _ in range(repeat):
        if sleep_s:
            time.sleep(sleep_s)
        t = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t)
    return round(statistics.median(times) / 1000, 2)


def measure() -> dict:
    codec, ckey = Codec(), frames.conn_key(b"k" * 32, b"t" * 16, frames.MAC_EACH)
    out = {}
    for name, msg in samples().items():
        p = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        body = codec.encode(msg)
        assert codec.decode(body) == msg and pickle.loads(p) == msg
        frame = frames.seal(ckey, 0, body)
        out[name] = {
            "pickle_bytes": len(p), "pickle_dumps_us": _us(lambda: pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)),
            "pickle_loads_us": _us(lambda: pickle.loads(p)),
            "msgspec_bytes": len(body) - 1, "msgspec_encode_us": _us(lambda: codec.encode(msg)),
            "msgspec_decode_us": _us(lambda: codec.decode(body)),
            "seal_mac_us": _us(lambda: frames.seal(ckey, 0, body)),
            "verify_mac_us": _us(lambda: frames.FrameReader(ckey).feed(frame)),
        }
    msg = samples()["FillBatch_1"]
    p, body = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL), codec.encode(msg)
    out["cold_us"] = {"message": "FillBatch_1", "sleep_ms": 5,
                      "pickle_dumps": _us(lambda: pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL), 200, 0.005),
                      "pickle_loads": _us(lambda: pickle.loads(p), 200, 0.005),
                      "msgspec_encode": _us(lambda: codec.encode(msg), 200, 0.005),
                      "msgspec_decode": _us(lambda: codec.decode(body), 200, 0.005)}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=1))
