"""The SSRF guard: the addresses an outbound webhook may connect to.

A webhook URL is chosen by whoever configures a service, so a call to it must not reach what
only the server can: its own loopback, the private network behind it, the cloud's metadata
endpoint (169.254.169.254). By default only public unicast addresses are allowed; the operator
may allow networks anyway (``127.0.0.0/8`` for development and tests).

The guard resolves the name once and the client connects to exactly the addresses it returned,
so a DNS answer that changes between the check and the connection (DNS rebinding) changes
nothing.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)

from hubbub.webhooks.errors import Refused, Unreachable

__all__ = ["Guard", "Network", "forbidden", "networks"]

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

_THIS_NETWORK = IPv4Network("0.0.0.0/8")
_RFC1918 = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_CGNAT = IPv4Network("100.64.0.0/10")
_UNIQUE_LOCAL = IPv6Network("fc00::/7")
_IPV4_COMPATIBLE = IPv6Network("::/96")  # deprecated ::a.b.c.d
_NAT64 = IPv6Network("64:ff9b::/96")  # the well-known prefix: a public IPv4 address inside
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")  # a site's own translators


def networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """``texts`` as networks (``10.0.0.0/8``, ``::1``); ``ValueError`` naming the first that is
    not one. Host bits set (``10.0.0.1/8``) count as a mistake: which network was meant?"""
    found = []
    for text in texts:
        try:
            found.append(ip_network(text.strip()))
        except ValueError:
            try:
                meant = ip_network(text.strip(), strict=False)
            except ValueError:
                raise ValueError(f"not a network in CIDR notation: {text!r}") from None
            raise ValueError(f"{text!r} has host bits set: did you mean {meant}?") from None
    return tuple(found)


def _unmapped(address: Address) -> Address:
    """An IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) is the IPv4 address it maps."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address a translation prefix routes an IPv6 address to, if any."""
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return address.teredo[1] if address.teredo is not None else None


def forbidden(address: Address) -> str | None:
    """Why ``address`` is no place for a webhook (``"loopback"``, ``"private"``, …), or
    ``None`` for a public unicast address."""
    address = _unmapped(address)
    if address.is_unspecified or address in _THIS_NETWORK:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, IPv4Address):
        if any(address in network for network in _RFC1918):
            return "private"
        if address in _CGNAT:
            return "shared (CGNAT)"
    else:
        if address in _UNIQUE_LOCAL or address in _NAT64_LOCAL or address.is_site_local:
            return "private"
        if address in _IPV4_COMPATIBLE:
            return "reserved"
        inner = _embedded(address)
        reason = None if inner is None else forbidden(inner)
        if reason is not None:
            return f"{reason} (IPv4 inside IPv6)"
        if address in _NAT64:
            # What DNS64 answers on an IPv6-only host: the IPv4 address inside decides.
            return None
    if address.is_reserved or not address.is_global:
        # Broadcast, documentation, benchmarking, protocol assignments, future use…
        return "reserved"
    return None


class Guard:
    """Resolves a webhook's host to the addresses it may connect to, or refuses it."""

    def __init__(self, allowed: Sequence[Network] = ()) -> None:
        #: Networks allowed despite :func:`forbidden` (the operator's ``--webhook-allow``).
        self.allowed = tuple(allowed)

    @classmethod
    def from_strings(cls, allowed: Iterable[str]) -> Guard:
        """A guard allowing the networks written in ``allowed`` (see :func:`networks`)."""
        return cls(networks(allowed))

    def check(self, address: Address) -> str | None:
        """Why ``address`` is refused, or ``None`` when a webhook may connect to it."""
        address = _unmapped(address)
        if any(address in network for network in self.allowed):
            return None
        return forbidden(address)

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` to connect to, in the resolver's order.

        Raises :class:`Refused` when any of them is not allowed (one bad answer refuses the
        host: which one a connection would use is not ours to pick) or when there is none, and
        :class:`Unreachable` when the name does not resolve.
        """
        host = host.removeprefix("[").removesuffix("]")
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise Unreachable(f"cannot resolve {host}") from None
        found: list[str] = []
        for _family, _type, _proto, _name, sockaddr in answers:
            text = str(sockaddr[0])
            if text in found:
                continue
            reason = self.check(ip_address(text))
            if reason is not None:
                whose = "" if text == host else f", an address of {host}"
                raise Refused(f"webhooks may not reach {text} ({reason}){whose}")
            found.append(text)
        if not found:
            raise Refused(f"{host} has no address")
        return found
