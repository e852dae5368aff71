"""One twilsock connection's state machine: ``init``, the token's lifecycle, tunnelled requests.

The same contract as ``realtime.session.Session`` (the ``Link`` drives either): fed frames and
the time, it answers with actions and events, and comes back through ``tick`` at its deadlines.
No I/O. Frames out are ready-made binary messages (``BinaryOutgoing``).

What the SDKs act on: a rejected ``init`` (401, ``status.errorCode`` 20104 for an expired
token, which fires ``tokenExpired``); ``client_update`` ``token_about_to_expire``; a ``close``
frame before the socket closes: 410 token expired, 401 authentication lost (a revoked key),
308 reconnect with backoff (the server is going away), 406 a frame it could not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from hubbub.chat.errors import ApiError
from hubbub.chat.messages import store_draft
from hubbub.realtime.commands import Commands, Identity
from hubbub.realtime.protocol import BinaryOutgoing, CloseCode
from hubbub.realtime.session import (
    DEFAULT_WARNING,
    Action,
    Close,
    Lifecycle,
    Pending,
    Send,
    Step,
)
from hubbub.store.errors import StoreError
from hubbub.store.records import Message
from hubbub.sync.journal import Journal
from hubbub.tokens import TokenError
from hubbub.twilsock import frames
from hubbub.twilsock.api import Answer, Api, Request
from hubbub.twilsock.frames import Frame, FrameError

#: Frames per second a session may send, sustained, and the burst it may save up: the SDKs
#: read a Sync object or two per channel when they start.
RATE, BURST = 200.0, 2000.0
#: What each way of ending tells the SDK, as the ``status`` of the ``close`` frame.
CLOSE_STATUS: dict[CloseCode, tuple[int, str]] = {
    CloseCode.TOKEN_EXPIRED: (410, "TOKEN_EXPIRED"),
    CloseCode.TOKEN_INVALID: (401, "UNAUTHORIZED"),
    CloseCode.KEY_REVOKED: (401, "UNAUTHORIZED"),
    CloseCode.GONE: (401, "UNAUTHORIZED"),
    CloseCode.PROTOCOL_VIOLATION: (406, "NOT_ACCEPTABLE"),
    CloseCode.FRAME_TOO_LARGE: (406, "NOT_ACCEPTABLE"),
}
#: Anything else (shutting down, overloaded, too slow, no init in time): come back later.
RECONNECT = (308, "OFFLOAD")


def send(header: dict[str, Any], payload: Any = None) -> Send:
    return Send(BinaryOutgoing(frames.encode(header, payload)))


def close_frame(code: CloseCode, reason: str) -> Send:
    status, text = CLOSE_STATUS.get(code, RECONNECT)
    described = {"code": status, "status": text, "description": reason}
    return send({"method": "close", "id": frames.new_id(), "status": described})


def notification(message_type: str, payload: Any) -> bytes:
    header = {
        "method": "notification",
        "id": frames.new_id(),
        "message_type": message_type,
        "payload_type": "application/json",
    }
    return frames.encode(header, payload)


@dataclass(frozen=True, slots=True)
class Later:
    """Actions for the link to carry out ``seconds`` from now (``Step.then``)."""

    seconds: float
    actions: list[Action]


class TwilsockSession(Lifecycle):
    """The protocol state of one ``/v3/wsconnect`` connection."""

    __slots__ = ("_init_id", "api")
    UNANSWERED = "no init in time"

    def __init__(
        self, commands: Commands, api: Api, *, now: float, warning: float = DEFAULT_WARNING
    ) -> None:
        super().__init__(commands, now=now, warning=warning, rate=RATE, burst=BURST)
        self.api = api
        self._init_id = ""

    def _warn(self, who: Identity) -> Action:
        return self._about_to_expire()

    def _expire(self, step: Step) -> None:
        self._close(step, CloseCode.TOKEN_EXPIRED, "the token expired")

    def turn_away(self, step: Step, error: ApiError) -> Step:
        """Take back the ``init`` that ``step`` answers: too many sessions of this identity."""
        self.who = None
        header = frames.reply(self._init_id, 429, "TOO_MANY_REQUESTS")
        header["status"].update(errorCode=error.code, description=error.message)
        refused = Step([send(header)])
        self._close(refused, CloseCode.TRY_AGAIN_LATER, "too many sessions")
        return refused

    # -- frames ------------------------------------------------------------------------------
    def receive(self, data: str | bytes, now: float, *, defer: bool = False) -> Step:
        step = self.tick(now)
        if self.closed:
            return step
        try:
            frame = frames.parse(data.encode() if isinstance(data, str) else data)
        except FrameError as exc:
            self._close(step, CloseCode.PROTOCOL_VIOLATION, str(exc))
            return step
        if not self._allowance.take(now):
            self._close(step, CloseCode.RATE_LIMITED, "too many frames")
            return step
        method = frame.method
        if method == "reply":
            return step  # the client acknowledging a notification
        if method == "init":
            self._init(step, frame, now)
        elif method == "close":
            self._close(step, CloseCode.NORMAL, "the client closed")
        elif self.who is None:
            step.actions.append(_status(frame, 403, "FORBIDDEN", "send init first"))
        elif method == "update":
            self._update(step, self.who, frame, now)
        elif method == "message":
            self._message(step, self.who, frame, defer)
        elif method in ("ping", "put_notification_ctx", "delete_notification_ctx"):
            step.actions.append(send(frames.reply(frame.id)))
        else:
            step.actions.append(_status(frame, 400, "BAD_REQUEST", f"unknown method {method!r}"))
        return step

    def complete(self, pending: Pending, stored: Message | StoreError) -> Step:
        """The reply to a tunnelled message send once the store answered (group commit)."""
        step = Step()
        try:
            outcome = self.commands.sent(pending.draft, stored)
        except ApiError as exc:
            step.actions.append(_http(str(pending.command_id), Answer(exc.status, exc.to_dict())))
            return step
        message = dict((outcome.resource or {}).get("message") or {})
        message["conversation_sid"] = message.get("channel_sid")
        step.actions.append(_http(str(pending.command_id), Answer(200, message)))
        step.events.extend(outcome.events)
        return step

    def _init(self, step: Step, frame: Frame, now: float) -> None:
        if self.who is not None:
            step.actions.append(_status(frame, 400, "BAD_REQUEST", "already initialised"))
            return
        self._init_id = frame.id
        try:
            who = self._verify(frame, now)
        except (TokenError, ApiError) as exc:
            step.actions.append(_refused(frame, exc))
            self._close(step, CloseCode.TOKEN_INVALID, "the token did not verify", notify=False)
            return
        self.who = who
        self._warned = now >= who.expires_at - self.warning
        answer = step.actions
        journal = self.commands.core.journal
        if isinstance(journal, Journal):
            wait = journal.start(self.commands.store, who.service_sid)
            if wait > 0:
                answer = []
                step.then.append(Later(wait, answer))
        header = frames.reply(
            frame.id,
            continuation_token=f"hubbub-{who.service_sid}-{who.identity}",
            continuation_token_status={"reissued": True},
            capabilities=["client_update"],
            offline_storage={},
            init_registrations=[],
            debug_info={},
        )
        answer.append(send(header))
        if self._warned:
            answer.append(self._about_to_expire())

    def _update(self, step: Step, current: Identity, frame: Frame, now: float) -> None:
        try:
            who = self._verify(frame, now)
            if (who.identity, who.service_sid) != (current.identity, current.service_sid):
                raise ApiError(400, 20106, "the new token is for another identity or Chat Service")
        except (TokenError, ApiError) as exc:
            step.actions.append(_refused(frame, exc))
            return
        self.who = who
        self._warned = now >= who.expires_at - self.warning
        step.actions.append(send(frames.reply(frame.id)))

    def _verify(self, frame: Frame, now: float) -> Identity:
        token = frame.header.get("token")
        if not isinstance(token, str):
            raise ApiError(401, 20101, "init needs a token")
        return self.commands.authenticate(token, now=int(now))

    def _message(self, step: Step, who: Identity, frame: Frame, defer: bool) -> None:
        request = frame.header.get("http_request")
        if not isinstance(request, dict):
            step.actions.append(_status(frame, 400, "BAD_REQUEST", "a message needs http_request"))
            return
        try:
            body = frame.body()
        except (ValueError, UnicodeDecodeError, RecursionError):
            error = ApiError(400, 20001, "the request body is not what its payload_type says")
            step.actions.append(_http(frame.id, Answer(400, error.to_dict())))
            return
        params = request.get("params")
        answer = self.api.handle(
            who,
            Request(
                str(request.get("method") or "GET").upper(),
                str(request.get("path") or ""),
                _params(params),
                body,
            ),
        )
        if answer.draft is not None:
            if defer:
                step.pending = Pending(frame.id, answer.draft)
                return
            try:
                with self.commands.core.atomic():
                    stored = store_draft(self.commands.store, answer.draft)
                    done = self.complete(Pending(frame.id, answer.draft), stored)
            except StoreError as exc:  # the channel or the media went meanwhile: none stored
                done = self.complete(Pending(frame.id, answer.draft), exc)
            step.actions.extend(done.actions)
            step.events.extend(done.events)
            return
        step.actions.append(_http(frame.id, answer))
        step.events.extend(answer.events)
        if answer.subscribe is not None:
            step.then.append(answer.subscribe)

    def _about_to_expire(self) -> Send:
        header = {
            "method": "client_update",
            "id": frames.new_id(),
            "client_update_type": "token_about_to_expire",
        }
        return send(header)

    def _close(self, step: Step, code: CloseCode, reason: str, *, notify: bool = True) -> None:
        self.closed = True
        if notify and code is not CloseCode.NORMAL:
            step.actions.append(close_frame(code, reason))
        step.actions.append(Close(code, reason))


def _status(frame: Frame, code: int, status: str, description: str) -> Send:
    header = frames.reply(frame.id, code, status)
    header["status"]["description"] = description
    return send(header)


def _refused(frame: Frame, error: TokenError | ApiError) -> Send:
    details = error.to_dict()
    status = 401 if details.get("status") in (401, None) else 403
    header = frames.reply(frame.id, status, "UNAUTHORIZED" if status == 401 else "FORBIDDEN")
    header["status"].update(errorCode=details.get("code"), description=details.get("message"))
    return send(header)


def _http(frame_id: str, answer: Answer) -> Send:
    """The reply to a tunnelled request: the HTTP status and the JSON body. An error's text
    goes in ``http_status.status`` too: it is what the SDKs make the error's message."""
    body = answer.body
    text = _reason(answer.status)
    if answer.status >= 400 and isinstance(body, dict) and isinstance(body.get("message"), str):
        text = body["message"]
    header = frames.reply(
        frame_id,
        http_status={"code": answer.status, "status": text},
        http_headers={"Content-Type": "application/json"},
        payload_type="application/json",
    )
    return send(header, answer.body if answer.body is not None else b"")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _params(params: Any) -> dict[str, str]:
    """The query of a tunnelled request: twilsock splits the URL's query string on ``&`` and
    ``=`` and passes the parts on still percent-encoded (``PageToken=desc%3A10%3A12``)."""
    if not isinstance(params, dict):
        return {}
    return {unquote(str(k)): unquote(str(v)) for k, v in params.items()}
