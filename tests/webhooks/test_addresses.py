"""The SSRF guard: only public unicast addresses unless the operator allows more, every
address a name resolves to checked, and those very addresses handed to the client."""

from __future__ import annotations

import socket
from ipaddress import ip_address

import pytest

from hubbub.webhooks.addresses import Guard, forbidden, networks
from hubbub.webhooks.errors import DeliveryError, Refused, Unreachable

REFUSED = {
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "10.1.2.3": "private",
    "172.20.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",  # cloud metadata
    "100.64.0.1": "shared (CGNAT)",
    "0.0.0.0": "unspecified",  # noqa: S104 (refused, not bound)
    "0.1.2.3": "unspecified",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "255.255.255.255": "reserved",
    "240.0.0.1": "reserved",
    "192.0.2.1": "reserved",
    "198.18.0.1": "reserved",
    "::": "unspecified",
    "::1": "loopback",
    "fe80::1": "link-local",
    "fe80::1%1": "link-local",
    "fd00:ec2::254": "private",  # cloud metadata over IPv6
    "fc00::1": "private",
    "fec0::1": "private",
    "ff02::1": "multicast",
    "ff0e::1": "multicast",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:169.254.169.254": "link-local",
    "::ffff:10.0.0.1": "private",
    "::127.0.0.1": "reserved",
    "::8.8.8.8": "reserved",
    "64:ff9b::7f00:1": "loopback (IPv4 inside IPv6)",
    "64:ff9b::a9fe:a9fe": "link-local (IPv4 inside IPv6)",
    "64:ff9b:1::808:808": "private",
    "2002:a00:1::1": "private (IPv4 inside IPv6)",
    "2001:db8::1": "reserved",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "reserved (IPv4 inside IPv6)",  # Teredo
    "100::1": "reserved",
}
ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "100.128.0.1",
    "172.32.0.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "reason"), REFUSED.items())
def test_addresses_only_the_server_reaches_are_refused(address: str, reason: str) -> None:
    assert forbidden(ip_address(address)) == reason
    with pytest.raises(Refused, match=r"webhooks may not reach .* \(") as caught:
        Guard().resolve(address, 443)
    assert isinstance(caught.value, DeliveryError)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_returned_as_they_are(address: str) -> None:
    assert forbidden(ip_address(address)) is None
    assert Guard().resolve(address, 443) == [address]
    assert Guard().resolve(f"[{address}]", 443) == [address]  # as a URL writes it


def test_the_operator_allows_networks_anyway() -> None:
    guard = Guard.from_strings(["127.0.0.0/8", " fd00::/8 ", "::1"])
    assert guard.allowed == networks(["127.0.0.0/8", "fd00::/8", "::1/128"])
    assert guard.resolve("127.0.0.2", 80) == ["127.0.0.2"]
    assert guard.resolve("::ffff:127.0.0.1", 80) == ["::ffff:127.0.0.1"]
    assert guard.resolve("fd12::1", 80) == ["fd12::1"]
    assert guard.resolve("::1", 80) == ["::1"]
    for still in ("10.0.0.1", "169.254.169.254", "fc00::1", "::2"):
        with pytest.raises(Refused):
            guard.resolve(still, 80)
    with pytest.raises(ValueError, match=r"^'127\.0\.0\.1/8' has host bits set: did you mean "):
        Guard.from_strings(["127.0.0.1/8"])  # a typo, most likely
    with pytest.raises(ValueError, match=r"^not a network in CIDR notation: 'loopback'$"):
        networks(["loopback"])


def test_names_are_resolved_and_every_answer_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Refused, match=r"webhooks may not reach .* \(loopback\), an address of "):
        Guard().resolve("localhost", 80)
    local = Guard.from_strings(["127.0.0.0/8", "::1/128"])
    found = local.resolve("localhost", 80)
    assert found
    assert all(ip_address(a).is_loopback for a in found)

    # One answer outside the allowed networks refuses the name, whichever comes first.
    def answers(*texts: str) -> None:
        def fake(host: str, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
            assert host == "hooks.example.com"
            return [
                (
                    socket.AF_INET6 if ":" in t else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (t, port),
                )
                for t in texts
            ]

        monkeypatch.setattr(socket, "getaddrinfo", fake)

    answers("127.0.0.1", "10.0.0.7")
    with pytest.raises(Refused, match=r"10\.0\.0\.7 \(private\), an address of hooks.example.com"):
        local.resolve("hooks.example.com", 443)
    answers("8.8.8.8", "8.8.8.8", "2606:4700:4700::1111")
    assert Guard().resolve("hooks.example.com", 443) == ["8.8.8.8", "2606:4700:4700::1111"]
    answers()
    with pytest.raises(Refused, match="has no address"):
        Guard().resolve("hooks.example.com", 443)


def test_a_name_that_does_not_resolve_is_unreachable() -> None:
    with pytest.raises(Unreachable, match=r"^cannot resolve nowhere\.invalid$"):
        Guard().resolve("nowhere.invalid", 443)
