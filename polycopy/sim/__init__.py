"""polysim: a Polymarket on loopback."""
