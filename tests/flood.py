"""A hostile HTTP client: holds many connections open on a server, each with half a
request (a request line and one header, never the blank line that ends the headers), and
opens a new one whenever the server closes one, for a given time.

    python -m tests.flood HOST PORT CONNECTIONS SECONDS

Loopback only. Prints one JSON line when done: connections opened in all, the most held
at once, those held at the end, connection attempts refused or failed. One process holds
as many connections as its open-file limit allows (raised to the hard limit); a test
wanting more starts several.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import resource
import sys
import time

__all__ = ["main"]

HALF_A_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: flood\r\nUser-Agent: flood\r\n"


class Flood:
    def __init__(self, host: str, port: int) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise SystemExit(f"flood: loopback addresses only, not {host}")
        self.host, self.port = host, port
        self.opened = 0
        self.held = 0
        self.most_held = 0
        self.failed = 0

    async def hold(self, until: float) -> None:
        """One connection slot: connect, send half a request, wait for the server to
        close it, again, until `until`."""
        loop = asyncio.get_running_loop()
        while loop.time() < until:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), max(0.0, until - loop.time())
                )
            except TimeoutError:
                return
            except OSError:
                self.failed += 1
                # The server's queue is full: try again once it has been served.
                await asyncio.sleep(0.05)
                continue
            self.opened += 1
            self.held += 1
            self.most_held = max(self.most_held, self.held)
            try:
                writer.write(HALF_A_REQUEST)
                await asyncio.wait_for(reader.read(), max(0.0, until - loop.time()))
            except (OSError, TimeoutError):
                pass
            finally:
                self.held -= 1
                writer.close()


async def run(host: str, port: int, connections: int, seconds: float) -> dict[str, int]:
    flood = Flood(host, port)
    until = asyncio.get_running_loop().time() + seconds
    slots = [asyncio.create_task(flood.hold(until)) for _ in range(connections)]
    await asyncio.gather(*slots)
    return {
        "opened": flood.opened,
        "most_held": flood.most_held,
        "failed": flood.failed,
    }


def main(argv: list[str]) -> int:
    host, port, connections, seconds = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started = time.monotonic()
    result = asyncio.run(run(host, port, connections, seconds))
    result["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
