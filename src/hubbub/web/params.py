"""Request parameters read the way Twilio reads them.

Bodies are ``application/x-www-form-urlencoded`` with PascalCase keys; nested settings use
dotted keys (``Limits.ChannelMembers``), lists repeat a key (``Permission=a&Permission=b``),
booleans are ``true``/``false``. Every getter raises a 400 ``ApiError`` naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from hubbub.chat import fields
from hubbub.chat.errors import INVALID_PARAMETER, invalid
from hubbub.chat.fields import MAX_ATTRIBUTES, MAX_TEXT

#: Years a date parameter may name: Unix time onwards, and four digits in responses.
EARLIEST, LATEST = 1970, 9999


class Params:
    """The parameters of one request, looked up by their Twilio names."""

    __slots__ = ("_values",)

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in items:
            self._values.setdefault(key, []).append(value)

    @classmethod
    def from_body(cls, body: bytes) -> Params:
        """Parse a form-encoded body; a body that is not UTF-8 is the client's error."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid("The request body is not UTF-8") from None
        try:
            return cls(parse_qsl(text, keep_blank_values=True, errors="strict"))
        except UnicodeDecodeError:
            raise invalid("The request body holds percent-escapes that are not UTF-8") from None
        except ValueError as exc:
            raise invalid(f"The request body is not form-encoded: {exc}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def names(self) -> list[str]:
        return list(self._values)

    def text(self, name: str, *, max_length: int = MAX_TEXT) -> str | None:
        """The last value given for ``name``, or ``None``."""
        values = self._values.get(name)
        return _bounded(name, values[-1], max_length) if values else None

    def required_text(self, name: str, *, max_length: int = MAX_TEXT) -> str:
        values = self._values.get(name)
        if not values:
            raise invalid(f"Missing required parameter {name} in the post body")
        return _bounded(name, values[-1], max_length)

    def boolean(self, name: str) -> bool | None:
        value = self.text(name, max_length=8)
        if value is None:
            return None
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise invalid(f"{name} must be true or false, not {value!r}")
        return lowered == "true"

    def integer(
        self,
        name: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        code: int = INVALID_PARAMETER,
    ) -> int | None:
        value = self.text(name, max_length=20)
        if value is None:
            return None
        try:
            number = int(value, 10)
        except ValueError:
            raise invalid(f"{name} must be a whole number, not {value!r}", code) from None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            bounds = (
                f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            )
            raise invalid(f"{name} must be {bounds}, not {number}", code)
        return number

    def choice(self, name: str, choices: Iterable[str]) -> str | None:
        """One of ``choices``, or ``None`` when not given."""
        value = self.text(name, max_length=64)
        allowed = list(choices)
        if value is not None and value not in allowed:
            raise invalid(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def repeated(self, name: str, *, max_length: int = 256) -> list[str]:
        """Every value given for ``name``, in order (``Permission=a&Permission=b``)."""
        return [_bounded(name, value, max_length) for value in self._values.get(name, [])]

    def attributes(self, name: str = "Attributes") -> str | None:
        """A JSON document held in a string, as Twilio's ``attributes`` are."""
        value = self.text(name, max_length=MAX_ATTRIBUTES)
        return None if value is None else fields.attributes(value, name)

    def timestamp(self, name: str) -> datetime | None:
        """An ISO 8601 date and time; without a zone it is taken as UTC."""
        value = self.text(name, max_length=40)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise invalid(f"{name} must be an ISO 8601 date and time, not {value!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            moment = moment.astimezone(UTC).replace(microsecond=0)
        except OverflowError:
            raise invalid(f"{name} is out of range: {value!r}") from None
        if not EARLIEST <= moment.year <= LATEST:
            raise invalid(f"{name} must be between {EARLIEST} and {LATEST}, not {value!r}")
        return moment


def _bounded(name: str, value: str, max_length: int) -> str:
    if len(value) > max_length:
        raise invalid(f"{name} is {len(value)} characters; at most {max_length} are allowed")
    if "\x00" in value:
        # No text column can hold it (PostgreSQL refuses it outright), and no name needs it.
        raise invalid(f"{name} may not contain the NUL character")
    return value


def header_flag(value: str | None, name: str) -> bool | None:
    """A ``true``/``false`` request header such as ``X-Twilio-Webhook-Enabled``."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise invalid(f"{name} must be true or false, not {value!r}")
    return lowered == "true"
