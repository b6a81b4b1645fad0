"""Where a webhook may point.

Whoever may change an org's policy names the URLs the notifier posts alerts to, from
inside the network it runs in. Pointed at loopback (the notifier's own machine: its
metrics, a local admin port) or a link-local address (the cloud metadata service at
169.254.169.254, which hands out credentials), a webhook would make the notifier a way
in. So those targets are refused, unless their host is one the operator named as
internal and allowed (`BACKUPWATCH_WEBHOOK_INTERNAL_HOSTS`):

* by `refusal(url, allowed)` wherever a URL is given — the API's policy change (400),
  the notifier's own defaults (at start) — and before each delivery, for URLs that name
  an address or `localhost`;
* by `TargetResolver` when the notifier connects: a host name may resolve to such an
  address, today or after the policy was accepted, so the addresses it resolves to are
  checked too, and only the allowed ones are connected to.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

__all__ = ["RULE", "RefusedTarget", "TargetResolver", "is_refused_address", "refusal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedTarget(OSError):
    """A webhook host resolved only to loopback or link-local addresses."""


def is_refused_address(address: IPAddress) -> bool:
    """Loopback, link-local or unspecified (`0.0.0.0` reaches this machine), also as an
    IPv4 address written in IPv6 (`::ffff:127.0.0.1`)."""
    return _kind(address) is not None


def _kind(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified (this machine's)"
    return None


def _host_key(host: str) -> str:
    return host.strip().rstrip(".").lower().strip("[]")


def _literal(host: str) -> IPAddress | None:
    """The address `host` is written as, in any form a resolver would read as one
    (`127.1`, `0x7f.0.0.1` and `2130706433` included); None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def refusal(url: str, allowed: Collection[str]) -> str | None:
    """Why the notifier will not post to `url`, or None: its host is written as a
    loopback or link-local address, or is `localhost`, and is not in `allowed`."""
    host = _host_key(urlsplit(url).hostname or "")
    if not host or host in {_host_key(h) for h in allowed}:
        return None
    address = _literal(host)
    kind = _kind(address) if address is not None else None
    if kind is not None:
        return f"{host} is a {kind} address"
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} names this machine"
    return None


# Said with every refusal: what the rule is, and how an operator lifts it for a host.
RULE = (
    "webhooks may not point at loopback or link-local addresses; name the host in "
    "BACKUPWATCH_WEBHOOK_INTERNAL_HOSTS to allow it"
)


class TargetResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses a webhook may connect to."""

    def __init__(self, allowed: Collection[str], inner: AbstractResolver | None = None) -> None:
        self._allowed = {_host_key(h) for h in allowed}
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if _host_key(host) in self._allowed:
            return found
        kept = [a for a in found if not is_refused_address(ipaddress.ip_address(a["host"]))]
        if not kept:
            shown = ", ".join(sorted({a["host"] for a in found}))
            raise RefusedTarget(f"{_host_key(host)} resolves to {shown}: {RULE}")
        return kept

    async def close(self) -> None:
        await self._inner.close()

    def __repr__(self) -> str:
        return f"TargetResolver(allowed={sorted(self._allowed)!r})"
