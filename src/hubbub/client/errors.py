"""What the SDK raises: the server's refusals, and the transport's failures."""

from __future__ import annotations

from typing import Any


class ChatError(Exception):
    """The server refused a command; ``code`` is Twilio's error code (e.g. 50404)."""

    def __init__(
        self, code: int, message: str, status: int | None = None, more_info: str | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.more_info = more_info

    @classmethod
    def from_json(cls, error: Any) -> ChatError:
        """Build one from a reply's ``error`` object, tolerating a malformed one."""
        if not isinstance(error, dict):
            return cls(0, "the server sent a malformed error")
        code = error.get("code")
        status = error.get("status")
        more_info = error.get("more_info")
        return cls(
            code if isinstance(code, int) else 0,
            str(error.get("message", "")),
            status if isinstance(status, int) else None,
            more_info if isinstance(more_info, str) else None,
        )


class CommandTimeout(TimeoutError):
    """No reply to a command in time (or no connection to send it on in time)."""


class NotConnected(ConnectionError):
    """The client is shut down or has given up, or the connection dropped mid-command.

    A command that fails this way may or may not have been carried out by the server.
    """


class FrameTooLarge(ValueError):
    """A command would not fit in one 64 KiB frame; it was not sent."""
