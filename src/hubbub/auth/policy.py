"""Token lifetimes: what the client asked, what the authenticator grants, what the operator
allows. Pure functions."""

from __future__ import annotations

from hubbub.tokens.claims import MAX_LIFETIME

#: The longest username ``/login`` reads and ``hubbub users add`` takes, in characters.
MAX_USERNAME = 256


def parse_ttl(value: object) -> int:
    """A requested lifetime: a positive whole number of seconds (as int or ASCII digits)."""
    if isinstance(value, bool):
        raise ValueError("ttl must be a whole number of seconds")
    if isinstance(value, int):
        ttl = value
    elif isinstance(value, str) and _is_digits(text := value.strip(" \t")):
        ttl = int(text)
    else:
        raise ValueError("ttl must be a whole number of seconds")
    if ttl < 1:
        raise ValueError("ttl must be at least 1 second")
    return ttl


def _is_digits(text: str) -> bool:
    # str.isdigit() and int() also take other scripts' digits ("١٢" is 12); a ttl is ASCII.
    return 0 < len(text) < 12 and text.isascii() and text.isdigit()


def check_limits(default: int, maximum: int) -> None:
    """Refuse operator settings no Chat Service could honour."""
    if not 1 <= maximum <= MAX_LIFETIME:
        raise ValueError(f"the maximum token TTL must be 1..{MAX_LIFETIME} seconds, not {maximum}")
    if not 1 <= default <= MAX_LIFETIME:
        raise ValueError(f"the default token TTL must be 1..{MAX_LIFETIME} seconds, not {default}")


def grant_ttl(requested: int | None, granted: int | None, *, default: int, maximum: int) -> int:
    """The lifetime to mint: the request (else what the authenticator granted, else the
    default), clamped to the operator's maximum and the authenticator's grant, never above
    24 hours."""
    cap = min(maximum, MAX_LIFETIME)
    if granted is not None and granted > 0:
        cap = min(cap, granted)
    wanted = requested if requested is not None else (granted or default)
    return max(1, min(wanted, cap))
