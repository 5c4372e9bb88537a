"""The reconciler leaves a token alone while the copy path is on it: a source fill our own feeds
stored in the last `settle_s` counts as the source trading, though the Data API (which lags the
copy path by seconds) lists neither the trade nor the position yet. Without it, the first round
after a copy would sell the copy back ("source 0, ours 12"), a second order for one fill."""
from decimal import Decimal as D

from polycopy.store import fills, open_db
from tests.actors.test_reconciler import DOWN, T0, UP, FakeClient, run_round, start


def test_a_token_our_feeds_just_saw_the_source_trade_is_left_to_the_copy_path(tmp_path, made):
    c = FakeClient()
    h = start(tmp_path, made, c)
    db = open_db(h.actor.config.store.path)
    fills.ensure(db)
    db["fills"].insert({"key": "0xt|UP|BUY|0.5|12|0", "token_id": UP, "side": "BUY", "price": "0.5", "size": "12",
                        "seen_ts_ms": (T0 + 25) * 1000, "status": "routed"})
    c.mids = {UP: D("0.5"), DOWN: D("0.5")}
    # first round, 5 s after the copy: the source lists nothing yet; we hold both tokens
    intents = run_round(h, ours={UP: "12", DOWN: "12"}, at=T0 + 30)
    assert [(i.token_id, i.side) for i in intents] == [(DOWN, "SELL")]  # nobody of ours saw DOWN traded
    assert h.actor.counts["skip:source_trading"] == 1
    db.conn.close()


def test_last_seen_by_token(tmp_path):
    db = open_db(":memory:")
    fills.ensure(db)
    for key, token, ms in [("a", "1", 5_000), ("b", "1", 9_999), ("c", "2", 3_000)]:
        db["fills"].insert({"key": key, "token_id": token, "seen_ts_ms": ms})
    assert fills.last_seen_s(db, ["1", "2", "3"]) == {"1": 9, "2": 3}
    assert fills.last_seen_s(db, []) == {}
