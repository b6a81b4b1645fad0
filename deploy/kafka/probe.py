"""Is a Kafka broker really serving? Standard library only, so kafka.sh needs no venv.

    python3 probe.py HOST:PORT [--timeout SECONDS]

Exit 0 when the broker answered a Metadata request that lists at least one
broker (an unfenced broker: a port that merely accepts connections is not
enough), 1 otherwise, with the reason on stderr.

Speaks just enough of the Kafka protocol for that: ApiVersions v0 to learn which
Metadata versions the broker accepts, then Metadata v4..v8 (the last versions
before the "flexible" encoding) with an empty topic list.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys

API_METADATA = 3
API_VERSIONS = 18
CLIENT_ID = b"backupwatch-probe"


class ProbeError(Exception):
    pass


def _request(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    header = struct.pack(">hhih", api_key, version, corr, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _read_exact(sock, 4))[0]
    response = _read_exact(sock, size)
    (got_corr,) = struct.unpack_from(">i", response, 0)
    if got_corr != corr:
        raise ProbeError(f"correlation id {got_corr} != {corr}")
    return response[4:]


def _read_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ProbeError("connection closed by the broker")
        chunks += chunk
    return bytes(chunks)


def _metadata_versions(sock: socket.socket) -> tuple[int, int]:
    body = _request(sock, API_VERSIONS, 0, 1, b"")
    error, count = struct.unpack_from(">hi", body, 0)
    if error:
        raise ProbeError(f"ApiVersions error code {error}")
    for i in range(count):
        key, low, high = struct.unpack_from(">hhh", body, 6 + 6 * i)
        if key == API_METADATA:
            return low, high
    raise ProbeError("broker does not list the Metadata API")


def _broker_count(sock: socket.socket, version: int) -> int:
    # topics: empty array (not null) = no topics, brokers are listed anyway;
    # allow_auto_topic_creation=false; v8 adds two include_*_authorized_operations flags.
    body = struct.pack(">ib", 0, 0)
    if version >= 8:
        body += struct.pack(">bb", 0, 0)
    response = _request(sock, API_METADATA, version, 2, body)
    # throttle_time_ms, then the brokers array length.
    _throttle, brokers = struct.unpack_from(">ii", response, 0)
    return brokers


def probe(address: str, timeout: float) -> int:
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.settimeout(timeout)
        low, high = _metadata_versions(sock)
        version = min(high, 8)
        if version < max(low, 4):
            raise ProbeError(f"no Metadata version in 4..8 (broker accepts {low}..{high})")
        return _broker_count(sock, version)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", help="HOST:PORT")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    try:
        brokers = probe(args.address, args.timeout)
    except (OSError, ProbeError, struct.error) as exc:
        print(f"{args.address}: {exc}", file=sys.stderr)
        return 1
    if brokers < 1:
        print(f"{args.address}: metadata lists no broker yet", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
