"""One connection's state machine: authentication, the token lifecycle, commands. No I/O.

Fed text frames and the current time, it answers with actions (frames to send, a close) and
the events its commands caused. Deadlines (authentication, the expiry warning, the expiry)
come out of ``next_deadline``; the adapter calls ``tick`` then. Whether the API key still
stands is checked once a second for the whole process, not per session (thousands of
per-session checks a second cost more than the sessions); the adapter calls ``revoke`` for
sessions whose key is gone. Lifecycle tests therefore run in microseconds, with no sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubbub import defaults
from hubbub.chat import render, users
from hubbub.chat.errors import ApiError
from hubbub.chat.events import Event
from hubbub.chat.messages import Draft
from hubbub.realtime.commands import Commands, Identity
from hubbub.realtime.protocol import (
    CloseCode,
    Command,
    Outgoing,
    ProtocolViolation,
    decode,
    error_reply,
    reply,
)
from hubbub.store.errors import StoreError
from hubbub.store.records import Message
from hubbub.tokens import TokenError

AUTH_TIMEOUT = 10.0
#: The final stretch of a token's life in which clients are told to renew it, in seconds.
DEFAULT_WARNING = defaults.TOKEN_WARNING
#: How often the process checks that the API keys behind its sessions' tokens still stand.
KEY_CHECK_INTERVAL = 1.0
#: Commands per second a session may send, sustained, and the burst it may save up.
RATE, BURST = 50.0, 100.0


@dataclass(frozen=True, slots=True)
class Send:
    #: A frame to encode, or one encoded already.
    frame: dict[str, Any] | Outgoing


@dataclass(frozen=True, slots=True)
class Close:
    code: CloseCode
    reason: str


Action = Send | Close


class Allowance:
    """A session's rate limit: ``rate`` frames a second, a burst of up to ``burst`` saved."""

    __slots__ = ("burst", "last", "left", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.left = burst
        self.last = now

    def take(self, now: float) -> bool:
        """Whether one more frame may go now (and count it)."""
        self.left = min(self.burst, self.left + (now - self.last) * self.rate)
        self.last = now
        if self.left < 1:
            return False
        self.left -= 1
        return True


@dataclass(frozen=True, slots=True)
class Pending:
    """A ``send_message`` checked and waiting for the adapter to store it (group commit)."""

    command_id: str | int
    draft: Draft


@dataclass(slots=True)
class Step:
    """What one input produced: actions for this connection, events for the hub, and a message
    to store before anything else of this session is handled (``receive(..., defer=True)``)."""

    actions: list[Action] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    pending: Pending | None = None
    #: What the link does next on the event loop, after sending the actions: another
    #: protocol's own (twilsock's subscriptions).
    then: list[object] = field(default_factory=list)


class Lifecycle:
    """A session's token over time, whatever the protocol: authentication in time, the
    warning before expiry, the expiry, a revoked key. Each protocol says how its client is
    told (``_warn``, ``_expire``) and how it closes (``_close``)."""

    # Thousands of these live at once: no per-instance __dict__.
    __slots__ = (
        "_allowance",
        "_opened",
        "_warned",
        "closed",
        "commands",
        "warning",
        "who",
    )
    #: Why a session without a token in time is closed.
    UNANSWERED = "no authenticate in time"

    def __init__(
        self,
        commands: Commands,
        *,
        now: float,
        warning: float = DEFAULT_WARNING,
        rate: float = RATE,
        burst: float = BURST,
    ) -> None:
        self.commands = commands
        self.warning = warning
        self.who: Identity | None = None
        self.closed = False
        self._opened = now
        self._warned = False
        self._allowance = Allowance(rate, burst, now)

    def next_deadline(self) -> float:
        """When ``tick`` must next be called, on this server's clock."""
        who = self.who
        if who is None:
            return self._opened + AUTH_TIMEOUT
        expiry = float(who.expires_at + self.commands.leeway)
        if self._warned:
            return expiry
        return min(expiry, who.expires_at - self.warning)

    def tick(self, now: float) -> Step:
        step = Step()
        who = self.who
        if self.closed:
            return step
        if who is None:
            if now >= self._opened + AUTH_TIMEOUT:
                self._close(step, CloseCode.AUTH_TIMEOUT, self.UNANSWERED)
            return step
        if now >= who.expires_at + self.commands.leeway:
            self._expire(step)
            return step
        if not self._warned and now >= who.expires_at - self.warning:
            self._warned = True
            step.actions.append(self._warn(who))
        return step

    def revoke(self) -> Step:
        """The API key behind this session's token was revoked (or its account suspended)."""
        step = Step()
        if not self.closed:
            self._close(step, CloseCode.KEY_REVOKED, "the token's API key was revoked")
        return step

    def _warn(self, who: Identity) -> Action:
        """What tells the client that its token is about to expire."""
        raise NotImplementedError

    def _expire(self, step: Step) -> None:
        """Tell the client its token expired, and close."""
        raise NotImplementedError

    def _close(self, step: Step, code: CloseCode, reason: str) -> None:
        raise NotImplementedError


class Session(Lifecycle):
    """The protocol state of one ``/v1/ws`` connection."""

    __slots__ = ()

    def _warn(self, who: Identity) -> Action:
        return Send({"type": "token_about_to_expire", "expires_at": who.expires_at})

    def _expire(self, step: Step) -> None:
        step.actions.append(Send({"type": "token_expired"}))
        self._close(step, CloseCode.TOKEN_EXPIRED, "the token expired")

    def turn_away(self, step: Step, error: ApiError) -> Step:
        """Take back the authentication that ``step`` answers (the gateway has no room for
        another session of this identity): its command gets ``error`` instead, then 1013."""
        answer = step.actions[0] if step.actions else None
        frame = answer.frame if isinstance(answer, Send) else None
        command_id = frame.get("id", 0) if isinstance(frame, dict) else 0
        self.who = None
        refused = Step([Send(error_reply(command_id, error.to_dict()))])
        self._close(refused, CloseCode.TRY_AGAIN_LATER, "too many sessions")
        return refused

    # -- frames ------------------------------------------------------------------------------
    def receive(self, text: str, now: float, *, defer: bool = False) -> Step:
        """Handle one frame. With ``defer``, a ``send_message`` is checked but not stored: the
        step carries it as ``pending``, and ``complete`` answers it once stored."""
        step = self.tick(now)
        if self.closed:
            return step
        try:
            command = decode(text)
        except ProtocolViolation as exc:
            self._close(step, exc.code, exc.reason)
            return step
        if not self._allowance.take(now):
            self._close(step, CloseCode.RATE_LIMITED, "too many commands")
            return step
        who = self.who
        if who is None:
            self._authenticate(step, command, now)
        elif command.type == "authenticate":
            step.actions.append(
                Send(error_reply(command.id, _error(400, 20001, "already authenticated")))
            )
        elif command.type == "update_token":
            self._update_token(step, who, command, now)
        elif defer and command.type == "send_message":
            try:
                step.pending = Pending(command.id, self.commands.draft_message(who, command.params))
            except ApiError as exc:
                step.actions.append(Send(error_reply(command.id, exc.to_dict())))
        else:
            self._run(step, who, command)
        return step

    def complete(self, pending: Pending, stored: Message | StoreError) -> Step:
        """The reply (and the event) of a deferred ``send_message`` once the store answered."""
        step = Step()
        try:
            outcome = self.commands.sent(pending.draft, stored)
        except ApiError as exc:
            step.actions.append(Send(error_reply(pending.command_id, exc.to_dict())))
            return step
        step.actions.append(Send(reply(pending.command_id, outcome.resource or {})))
        step.events.extend(outcome.events)
        return step

    def _authenticate(self, step: Step, command: Command, now: float) -> None:
        if command.type != "authenticate":
            self._close(step, CloseCode.PROTOCOL_VIOLATION, "authenticate first")
            return
        token = command.params.get("token")
        try:
            if not isinstance(token, str):
                raise ApiError(400, 20101, "authenticate needs a token")
            who = self.commands.authenticate(token, now=int(now))
        except (TokenError, ApiError) as exc:
            step.actions.append(Send(error_reply(command.id, _error_of(exc))))
            self._close(step, CloseCode.TOKEN_INVALID, "the token did not verify")
            return
        self.who = who
        self._warned = now >= who.expires_at - self.warning
        result = {
            "identity": who.identity,
            "user": render.user(
                who.user,
                who.account_sid,
                self.commands.urls,
                reachability=users.reachability(
                    self.commands.store, who.account_sid, who.service_sid
                ),
            ),
            "service_sid": who.service_sid,
            "expires_at": who.expires_at,
            "about_to_expire_in": self.warning,
            "leeway": self.commands.leeway,
        }
        step.actions.append(Send(reply(command.id, result)))
        if self._warned:
            step.actions.append(self._warn(who))

    def _update_token(self, step: Step, current: Identity, command: Command, now: float) -> None:
        token = command.params.get("token")
        try:
            if not isinstance(token, str):
                raise ApiError(400, 20101, "update_token needs a token")
            who = self.commands.authenticate(token, now=int(now))
            if (who.identity, who.service_sid) != (current.identity, current.service_sid):
                raise ApiError(400, 20106, "the new token is for another identity or Chat Service")
        except (TokenError, ApiError) as exc:
            step.actions.append(Send(error_reply(command.id, _error_of(exc))))
            return
        self.who = who
        self._warned = now >= who.expires_at - self.warning
        step.actions.append(Send(reply(command.id, {"expires_at": who.expires_at})))

    def _run(self, step: Step, who: Identity, command: Command) -> None:
        try:
            outcome = self.commands.run(who, command.type, command.params)
        except ApiError as exc:
            step.actions.append(Send(error_reply(command.id, exc.to_dict())))
            return
        step.actions.append(Send(reply(command.id, outcome.resource or {})))
        step.events.extend(outcome.events)

    def _close(self, step: Step, code: CloseCode, reason: str) -> None:
        self.closed = True
        step.actions.append(Close(code, reason))


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return ApiError(status, code, message).to_dict()


def _error_of(exc: TokenError | ApiError) -> dict[str, Any]:
    return exc.to_dict()
