"""Opaque keyset cursors for lists.

A cursor names the last item of a page: ``(date_created, sid)`` for most lists, the message index
(with its direction) for messages. The next page starts strictly after it, so inserts and deletes
between requests never repeat or skip an item that stays. Cursors are URL-safe base64 without
padding and fit in a ``PageToken`` query parameter as they are. A kind letter inside tells message
cursors (and their direction) from the others, so a cursor from the wrong kind of list is refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, tuple_

from hubbub.store.errors import InvalidCursor
from hubbub.store.records import Order

# A date is its Unix second: twelve digits and a sign hold every second of years 1 to 9999, all
# a datetime (and so the store) holds. An index fits in ten digits (a 32-bit column). Anything
# outside those could only come from a tampered token.
_CREATED = re.compile(r"c(-?\d{1,12})\.([A-Z]{2}[0-9a-f]{32})")
_INDEX = re.compile(r"([ad])(\d{1,10})")
_MAX_INDEX = 2**31 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("ascii")).rstrip(b"=").decode("ascii")


def _decode(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidCursor(cursor) from None


def created_cursor(date_created: datetime, sid: str) -> str:
    """The cursor just after an item that sorts by ``(date_created, sid)``."""
    # Whole seconds since the epoch, counted exactly (the store keeps whole seconds).
    seconds = (date_created - _EPOCH) // timedelta(seconds=1)
    return _encode(f"c{seconds}.{sid}")


def after_created(table: Table, cursor: str) -> ColumnElement[bool]:
    """``WHERE`` clause for the items of ``table`` after ``cursor``."""
    match = _CREATED.fullmatch(_decode(cursor))
    if match is None:
        raise InvalidCursor(cursor)
    try:
        date = _EPOCH + timedelta(seconds=int(match[1]))
    except OverflowError:  # before year 1 or after 9999
        raise InvalidCursor(cursor) from None
    # A plain tuple on the right takes each column's type, so the date goes through UTCDateTime.
    key: Any = tuple_(table.c.date_created, table.c.sid)
    return key > (date, match[2])  # type: ignore[no-any-return]


def index_cursor(order: Order, index: int) -> str:
    """The cursor just after the message at ``index`` in a list sorted ``order``."""
    return _encode(f"{order[0]}{index}")


def after_index(table: Table, order: Order, cursor: str) -> ColumnElement[bool]:
    """``WHERE`` clause for the messages after ``cursor``, taken from a list in ``order``."""
    match = _INDEX.fullmatch(_decode(cursor))
    if match is None or match[1] != order[0]:
        raise InvalidCursor(cursor)
    index = int(match[2])
    if index > _MAX_INDEX:
        raise InvalidCursor(cursor)
    column = table.c.message_index
    return column > index if order == "asc" else column < index
