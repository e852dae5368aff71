"""Password hashing with argon2id (argon2-cffi); a password is never stored or logged."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    """Hashes and checks passwords. Each check costs tens of milliseconds by design: callers on
    an event loop run it in a thread."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        if not password:
            raise ValueError("a password may not be empty")
        return self._hasher.hash(password)

    def check(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (``None``: no such user, always false)."""
        if stored is None and self._dummy is None:
            # Checked when the username is unknown, so that an unknown name takes as long as a
            # wrong password and timing does not tell which names exist. Made on first need.
            self._dummy = self._hasher.hash("hubbub: no such user")
        try:
            self._hasher.verify(stored or self._dummy or "", password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored is not None

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with weaker settings than the current ones."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True
