"""polycopy: copy one Polymarket wallet's trades, fast and exactly once."""
