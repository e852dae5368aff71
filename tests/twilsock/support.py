"""Frames to feed a ``TwilsockSession`` and what it sends back, decoded with ``frames.parse``."""

from __future__ import annotations

import itertools
from typing import Any

from hubbub.realtime.protocol import BinaryOutgoing, CloseCode
from hubbub.realtime.session import Close, Send, Step
from hubbub.twilsock import frames
from hubbub.twilsock.frames import Frame

_ids = itertools.count(1)


def next_id() -> str:
    return f"RQ{next(_ids):032x}"


def init(token: str, frame_id: str = "RQinit") -> bytes:
    header = {
        "method": "init",
        "id": frame_id,
        "token": token,
        "continuation_token": None,
        "registrations": [],
        "capabilities": ["client_update"],
    }
    return frames.encode(header)


def update(token: str, frame_id: str = "RQupdate") -> bytes:
    return frames.encode({"method": "update", "id": frame_id, "token": token})


def request(
    method: str,
    path: str,
    body: Any = None,
    *,
    params: dict[str, str] | None = None,
    frame_id: str | None = None,
    form: bool = False,
) -> bytes:
    """A tunnelled HTTP request, as the SDKs send it (``message`` with ``http_request``)."""
    header: dict[str, Any] = {
        "method": "message",
        "id": frame_id or next_id(),
        "active_grant": "ip_messaging",
        "http_request": {
            "host": "aim.us1.twilio.com",
            "path": path,
            "method": method,
            "params": params or {},
            "headers": {},
        },
    }
    if form:
        header["payload_type"] = "application/x-www-form-urlencoded"
    return frames.encode(header, body)


def out(step: Step) -> list[Frame]:
    """The frames the step sends, decoded."""
    found = []
    for action in step.actions:
        if isinstance(action, Send):
            assert isinstance(action.frame, BinaryOutgoing), action.frame
            found.append(frames.parse(action.frame.data))
    return found


def closed(step: Step) -> CloseCode | None:
    closes = [action.code for action in step.actions if isinstance(action, Close)]
    assert len(closes) <= 1
    return closes[0] if closes else None


def only(step: Step) -> Frame:
    sent = out(step)
    assert len(sent) == 1, [f.header for f in sent]
    return sent[0]
