"""Another local program writing to polycopy's ports, run as its own process:

    python -m tests.integration.attacker PORT MARKER_PATH [exit]

Sends one Thespian-framed plain pickle (`b'<len>>' + pickle`) that would create MARKER_PATH when
unpickled (with `exit`: a spoofed ActorExitRequest instead), reads until the peer closes, and
prints what came back as hex: Thespian answers a frame it could not decode with ACK+DATAERR.
"""
from __future__ import annotations

import pickle
import socket
import sys


class Marker:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def main(port: int, marker: str, kind: str = "marker") -> None:
    if kind == "exit":
        from thespian.actors import ActorExitRequest

        payload = pickle.dumps((None, ActorExitRequest()))
    else:
        payload = pickle.dumps((None, Marker(marker)))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"%d>" % len(payload) + payload)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    print(answer.hex())


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], *sys.argv[3:])
