"""Checks on single values that a type cannot express: addresses and venue URLs.

Messages never repeat the value: a URL may carry a key, and the caller names the key.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

HEX = frozenset("0123456789abcdefABCDEF")
SCHEMES = {"http": ("https", "http"), "ws": ("wss", "ws")}  # kind -> (secure, plain)


def address(v: str) -> str:
    """A 0x address, lowercased. Mixed case must be a valid EIP-55 checksum: a mixed-case address
    with a wrong checksum is a typo (one changed character), never a different valid wallet."""
    if not (isinstance(v, str) and v.startswith("0x") and len(v) == 42 and all(c in HEX for c in v[2:])):
        raise ValueError("must be a 0x-prefixed 20-byte hex address")
    body = v[2:]
    if body != body.lower() and body != body.upper():
        from eth_utils import to_checksum_address  # keccak: imported only when needed

        if to_checksum_address(v) != v:
            raise ValueError("mixed-case address with a wrong EIP-55 checksum (a typo?): "
                             "write it with its correct checksum, or all in lowercase")
    return v.lower()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8 and ::1
    except ValueError:
        return False


def url_problem(url: str, kind: str, live: bool) -> str | None:
    """Why `url` cannot be a venue endpoint of `kind` ("http" or "ws"), or None.

    Live mode sends the signing key's orders and the API key over these: TLS only, except to a
    loopback host (polysim, a local proxy)."""
    secure, plain = SCHEMES[kind]
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port  # .port raises on a bad port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in (secure, plain) or not host:
        return f"must be a {secure}:// (or {plain}://) URL with a host"
    if live and parts.scheme == plain and not is_loopback(host):
        return f"live mode needs {secure}:// (plain {plain}:// only to a loopback host: 127.0.0.0/8, localhost, ::1)"
    return None
