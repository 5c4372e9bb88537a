"""Rules between fields: a policy whose parts contradict each other is refused, not half applied.

Caps nest (decided for issue 14): min order <= per order <= per market <= per 15-minute window
<= portfolio, and per order <= daily volume. Each outer cap counts a superset of what the inner
one counts (risk.py: a market's notional falls in one window; a window's markets are part of the
portfolio), so an inner cap above its outer one can never bind: that is a typo or a cap the
operator believes in but which does nothing, and the file would lie about the policy. A minimum
above its maximum makes the setting meaningless (nothing could ever be sent; a backoff that
shrinks). A liveness probe must come more often than its timeout, or every child looks dead.

Each rule names both keys. Durations compare in seconds whatever unit their names carry.
"""
from __future__ import annotations

from decimal import Decimal

from polycopy.config.checks import url_problem
from polycopy.config.models import Config, Mode

AT_MOST = (  # (a, b): a <= b
    ("sizing.min_order_notional_usd", "sizing.max_notional_per_order_usd"),
    ("sizing.max_notional_per_order_usd", "sizing.max_notional_per_market_usd"),
    ("sizing.max_notional_per_market_usd", "sizing.max_total_notional_per_15m_window_usd"),
    ("sizing.max_total_notional_per_15m_window_usd", "risk.max_portfolio_notional_usd"),
    ("sizing.max_notional_per_order_usd", "risk.max_daily_volume_usd"),
    ("detection.reconnect_min_ms", "detection.reconnect_max_ms"),
    ("actors.restart_backoff_min_ms", "actors.restart_backoff_max_ms"),
    ("execution.heartbeat_timeout_ms", "execution.heartbeat_interval_s"),
)
BELOW = (  # (a, b): a < b
    ("detection.rtds_ping_interval_s", "detection.rtds_silence_limit_s"),
    ("actors.ping_interval_ms", "actors.pong_timeout_ms"),
)
FIXED_SIZE = (  # with sizing.mode: fixed, the fixed order must be sendable
    ("sizing.min_order_notional_usd", "sizing.fixed_notional_usd"),
    ("sizing.fixed_notional_usd", "sizing.max_notional_per_order_usd"),
)
URLS = {"clob_url": "http", "data_api_url": "http", "gamma_url": "http", "geoblock_url": "http",
        "relayer_url": "http", "polygon_rpc_url": "http",
        "rtds_url": "ws", "clob_ws_market_url": "ws", "clob_ws_user_url": "ws", "polygon_ws_url": "ws"}
# Read once at start: a reload that changes them would be accepted and then ignored.
RESTART_ONLY = ("execution.mode", "store", "actors.admin_port", "actors.system_base", "telemetry.log_path",
                "telemetry.metrics_port", "venue", "detection.record_path")


def value(cfg: Config, key: str):
    node = cfg
    for part in key.split("."):
        node = getattr(node, "copy_" if part == "copy" else part)
    if key.endswith("_ms"):
        return Decimal(node) / 1000
    return Decimal(str(node)) if isinstance(node, (int, float)) and not isinstance(node, bool) else node


def problems(cfg: Config) -> list[str]:
    """Every broken rule as 'key: why', in a stable order."""
    out = [f"{a}: must be at most {b}" for a, b in AT_MOST if value(cfg, a) > value(cfg, b)]
    out += [f"{a}: must be below {b}" for a, b in BELOW if value(cfg, a) >= value(cfg, b)]
    if cfg.sizing.mode == "fixed":
        out += [f"{a}: must be at most {b} (sizing.mode: fixed)" for a, b in FIXED_SIZE if value(cfg, a) > value(cfg, b)]
    live = cfg.mode is Mode.live
    for name, kind in URLS.items():
        url = getattr(cfg.venue, name)
        why = url_problem(url, kind, live) if url is not None else None
        if why:
            out.append(f"venue.{name}: {why}")
    return out


def reload_problems(old: Config, new: Config) -> list[str]:
    """Keys a reload may not change: they are read once at start (a restart applies them)."""
    return [f"{key}: changed, but only a restart applies it (keeping the running policy)"
            for key in RESTART_ONLY if value(old, key) != value(new, key)]
