"""The wire format between the worker and its executors: a JSON header and raw bytes.

Nothing is ever unpickled from an executor (it runs untrusted networks): the worker reads a
length-prefixed JSON object and a byte payload whose size it checks against what it expects.
"""

import json
import socket
import struct
import time
from typing import Any

PREFIX = struct.Struct("<IQ")  # header length, payload length
MAX_HEADER_BYTES = 1024 * 1024


class ProtocolError(RuntimeError):
    """The other side sent something that is not a well-formed message."""


class PeerGoneError(EOFError):
    """The other side closed the connection (it exited or was killed)."""


def send_message(
    sock: socket.socket, header: dict[str, Any], payload: bytes | bytearray | memoryview = b""
) -> None:
    """Send one message: prefix, JSON header, payload."""
    head = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(PREFIX.pack(len(head), len(payload)) + head)
    if payload:
        sock.sendall(payload)


def receive_message(
    sock: socket.socket, *, max_payload: int, deadline: float | None = None
) -> tuple[dict[str, Any], bytearray]:
    """Receive one message; raise TimeoutError past `deadline` (a time.monotonic() value)."""
    header_len, payload_len = PREFIX.unpack(_read_exact(sock, PREFIX.size, deadline))
    if header_len > MAX_HEADER_BYTES:
        raise ProtocolError(f"a {header_len}-byte header is over the {MAX_HEADER_BYTES} limit")
    if payload_len > max_payload:
        raise ProtocolError(f"a {payload_len}-byte payload is over the {max_payload} expected")
    try:
        header = json.loads(_read_exact(sock, header_len, deadline))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"the header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("the header is not a JSON object")
    return header, _read_exact(sock, payload_len, deadline)


def _read_exact(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
        try:
            count = sock.recv_into(view[got:], min(size - got, 1 << 24))
        except TimeoutError:
            raise TimeoutError from None
        except ConnectionResetError:
            raise PeerGoneError from None
        if count == 0:
            raise PeerGoneError
        got += count
    return buffer  # not copied: a checkpoint may be hundreds of MiB
