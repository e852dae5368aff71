"""``ChatClient``: one authenticated connection to a hubbub Chat Service, kept alive.

Three kinds of task share the work. The reader task of the current connection matches
replies to commands and turns pushes into events. The supervisor waits for that connection to
end and, as ``policy`` advises, reconnects (fetching a fresh token first if needed), gives up,
or reports ``denied``. Short-lived tasks renew the token and catch channels up after a
reconnect: the messages sent meanwhile, and the edits and removals of those the application
already had (``timeline`` decides what to report). Events reach the application through
``Emitter``, in order.

Over 500 lines on purpose: it is the SDK's one public client, and its commands (one short
method each, mirroring Twilio's Chat client) and the connection lifecycle they depend on read
best side by side; the parts with ideas of their own (protocol, policy, timeline, pacing,
channel, models) are already modules of their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any

from websockets.exceptions import WebSocketException

from hubbub.client.channel import Channel, Paginator, Status, encode_attributes
from hubbub.client.connection import Connection
from hubbub.client.errors import ChatError, CommandTimeout, NotConnected
from hubbub.client.events import Callback, ConnectionState, Emitter
from hubbub.client.media import MediaService, media_url
from hubbub.client.models import Member, Message, Typing, User
from hubbub.client.pacing import Pacer
from hubbub.client.policy import Action, Backoff, CloseCode, after_close
from hubbub.client.protocol import MalformedFrame, Reply, Requests, decode, encode_command
from hubbub.client.timeline import (
    ADDED,
    DEFAULT_WINDOW,
    REMOVED,
    UPDATED,
    Change,
    Kind,
    Timeline,
    next_anchor,
)

log = logging.getLogger("hubbub.client")

DEFAULT_URL = "ws://127.0.0.1:8080/v1/ws"
TokenProvider = Callable[[], Awaitable[str]]

#: A connection that stayed up this long (seconds) resets the backoff; one that flaps does not.
STABLE_AFTER = 30.0
#: Messages per command when catching up after a reconnect (the server's maximum).
CATCH_UP_PAGE = 100
#: Pause before asking again for the subscribed channels when that failed on a live connection.
RESYNC_RETRY = 1.0

_CHANNEL_STATUS: dict[str, Status] = {
    "channel_joined": "joined",
    "channel_left": "known",
    "channel_invited": "invited",
}
_CHANNEL_EVENTS = frozenset(
    {"channel_added", "channel_updated", "channel_removed", *_CHANNEL_STATUS}
)
_MESSAGE_EVENTS: dict[str, Kind] = {kind: kind for kind in (ADDED, UPDATED, REMOVED)}
_MEMBER_EVENTS = frozenset({"member_joined", "member_left", "member_updated"})
_RETRYABLE = (OSError, TimeoutError, WebSocketException, NotConnected)


class ChatClient:
    """A Programmable Chat client; make one with ``await ChatClient.create(...)``."""

    def __init__(
        self,
        url: str,
        token: str | None,
        token_provider: TokenProvider | None,
        *,
        timeout: float,
        open_timeout: float,
        backoff: Backoff | None,
        pacer: Pacer | None,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        self.url = url
        self.state = ConnectionState.DISCONNECTED
        self.identity: str | None = None
        self.service_sid: str | None = None
        self.user: User | None = None
        #: How the last connection ended (``None`` while the first is up).
        self.close_code: int | None = None
        self.close_reason = ""
        self._token = token
        self._provider = token_provider
        self._timeout = timeout
        self._open_timeout = open_timeout
        self._backoff = backoff or Backoff()
        self._pacer = pacer or Pacer()
        self._requests: Requests[asyncio.Future[Reply]] = Requests(timeout)
        self._timeline: Timeline[Message] = Timeline(window)
        self._events = Emitter()
        self._channels: dict[str, Channel] = {}
        #: The binding this client registered per provider (``set_push_registration_id``).
        self._push_bindings: dict[str, str] = {}
        self._conn: Connection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Set while connected, and for good once finished, so waiting commands wake up.
        self._ready = asyncio.Event()
        self._finished = False
        self._shut_down = False
        self._connected_at = 0.0
        self._renewing = False
        self._media = MediaService(
            lambda: media_url(self.url, self.service_sid or ""), lambda: self._token, timeout
        )

    @classmethod
    async def create(
        cls,
        token: str | None = None,
        *,
        token_provider: TokenProvider | None = None,
        url: str = DEFAULT_URL,
        timeout: float = 10.0,
        open_timeout: float = 10.0,
        backoff: Backoff | None = None,
        pacer: Pacer | None = None,
        window: int = DEFAULT_WINDOW,
    ) -> ChatClient:
        """Connect, authenticate and learn the subscribed channels.

        Give a ``token``, or a ``token_provider`` (an ``async def () -> str``) that the client
        calls for the first token, before the current one expires, and whenever the server
        refuses it; or both. Raises ``ChatError`` if the token is refused, ``OSError`` (or a
        ``websockets`` error) if the server cannot be reached.

        After a reconnect, edits and removals made meanwhile to the latest ``window`` messages
        of each channel that the application was given are reported as ``message_updated``
        and ``message_removed`` (older ones cannot be checked without re-reading them).
        """
        if token is None and token_provider is None:
            raise ValueError("give a token or a token_provider")
        client = cls(
            url,
            token,
            token_provider,
            timeout=timeout,
            open_timeout=open_timeout,
            backoff=backoff,
            pacer=pacer,
            window=window,
        )
        try:
            await client._connect()
            await client._resync(retry=False)
        except BaseException:
            await client.shutdown()
            raise
        client._supervisor = asyncio.create_task(client._supervise(), name="hubbub-client")
        return client

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.shutdown()

    # -- the application's side ----------------------------------------------------------------
    def on(self, event: str, callback: Callback) -> None:
        """Call ``callback`` (sync or async) on ``event``; see ``hubbub.client.events``."""
        self._events.on(event, callback)

    def off(self, event: str, callback: Callback) -> None:
        self._events.off(event, callback)

    async def update_token(self, token: str) -> None:
        """Replace the token on the live connection (same identity and service)."""
        await self._command("update_token", {"token": token})
        self._token = token

    async def create_channel(
        self,
        friendly_name: str | None = None,
        unique_name: str | None = None,
        attributes: dict[str, Any] | None = None,
        *,
        private: bool = False,
    ) -> Channel:
        """Create a channel; this user joins it (as channel admin)."""
        params = {
            "friendly_name": friendly_name,
            "unique_name": unique_name,
            "attributes": encode_attributes(attributes),
            # Not "type": that key names the command in every frame.
            "channel_type": "private" if private else "public",
        }
        result = await self._command(
            "create_channel", {k: v for k, v in params.items() if v is not None}
        )
        channel = self._remember(result.get("channel") or {}, "joined")
        self._timeline.start_empty(channel.sid)
        return channel

    async def get_channel_by_sid(self, sid: str) -> Channel:
        """The channel with this SID (``ChatError`` 20404 if missing or invisible)."""
        result = await self._command("get_channel", {"channel": sid})
        return self._remember(result.get("channel") or {})

    async def get_channel_by_unique_name(self, unique_name: str) -> Channel:
        return await self.get_channel_by_sid(unique_name)

    async def get_subscribed_channels(self) -> list[Channel]:
        """The channels this user has joined, then those it is invited to (``status``
        ``invited``; new invitations also come as ``channel_invited``)."""
        result = await self._command("get_subscribed_channels", {})
        return [self._remember_subscription(item) for item in result.get("channels") or []]

    async def get_public_channels(self, page_size: int = 50) -> Paginator:
        """The first page of public channels; ``await page.next_page()`` for more."""

        async def fetch(token: str | None) -> Paginator:
            params: dict[str, Any] = {"page_size": page_size}
            if token is not None:
                params["page_token"] = token
            result = await self._command("get_public_channels", params)
            channels = [self._remember(data) for data in result.get("channels") or []]
            return Paginator(channels, result.get("next_page_token"), fetch)

        return await fetch(None)

    # -- push --------------------------------------------------------------------------------
    async def set_push_registration_id(
        self, binding_type: str, address: str, message_types: list[str] | None = None
    ) -> str:
        """Have this user's device told of chat events by push (Twilio's
        ``setPushRegistrationId``): ``binding_type`` ``fcm``, ``apn`` or ``webpush``, and the
        provider's address of the device (its registration token, device token, or Web Push
        subscription JSON). The service's four chat message types unless ``message_types``
        names others. Returns the binding's SID."""
        params: dict[str, Any] = {"binding_type": binding_type, "address": address}
        if message_types is not None:
            params["message_types"] = list(message_types)
        result = await self._command("register_push", params)
        sid = str(result["binding_sid"])
        self._push_bindings[binding_type] = sid
        return sid

    async def unset_push_registration_id(self, binding_type: str) -> None:
        """Stop the pushes set up by ``set_push_registration_id`` for ``binding_type``."""
        sid = self._push_bindings.pop(binding_type, None)
        if sid is not None:
            await self._command("unregister_push", {"binding_sid": sid})

    async def remove_push_registrations(self, binding_type: str, address: str) -> None:
        """Remove this user's registration of the device at ``address`` (Twilio's
        ``removePushRegistrations``), whichever client made it."""
        result = await self._command(
            "unregister_push", {"binding_type": binding_type, "address": address}
        )
        removed = set(result.get("removed") or [])
        if self._push_bindings.get(binding_type) in removed:
            del self._push_bindings[binding_type]

    async def shutdown(self) -> None:
        """Close the connection and stop reconnecting; pending events are still delivered."""
        if self._shut_down:
            return
        self._shut_down = self._finished = True
        current = asyncio.current_task()
        tasks = [t for t in (self._supervisor, *self._tasks) if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        if self._conn is not None:
            await self._conn.close()
        if self._reader is not None and self._reader is not current:
            await self._reader
        await asyncio.gather(*tasks, return_exceptions=True)
        denied = self.state is ConnectionState.DENIED  # worth keeping: it says why
        self._finish(ConnectionState.DENIED if denied else ConnectionState.DISCONNECTED)
        await self._events.close()

    # -- commands ------------------------------------------------------------------------------
    async def _command(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run a command once connected (waiting for a reconnect, within the timeout)."""
        if not self._ready.is_set() and not self._finished:
            try:
                async with asyncio.timeout(self._timeout):
                    await self._ready.wait()
            except TimeoutError:
                raise CommandTimeout(f"not connected within {self._timeout} s") from None
        if self._finished or self._conn is None:
            raise NotConnected(f"the client is {self.state}")
        return await self._send(self._conn, kind, params)

    async def _send(self, conn: Connection, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        delay = self._pacer.delay(loop.time())
        if delay > 0:
            await asyncio.sleep(delay)
        waiter: asyncio.Future[Reply] = loop.create_future()
        pending = self._requests.begin(waiter, loop.time())
        try:
            await conn.send(encode_command(pending.id, kind, params))
            async with asyncio.timeout_at(pending.deadline):
                reply = await waiter
        except TimeoutError:
            raise CommandTimeout(f"no reply to {kind} within {self._timeout} s") from None
        finally:
            self._requests.forget(pending.id)
        if not reply.ok:
            raise ChatError.from_json(reply.error)
        return reply.result

    # -- the connection ------------------------------------------------------------------------
    async def _connect(self) -> None:
        """Open a connection and authenticate on it; its reader runs from then on."""
        self._set_state(ConnectionState.CONNECTING)
        if self._token is None and self._provider is not None:
            self._token = await self._provider()
        conn = await Connection.open(self.url, open_timeout=self._open_timeout)
        reader = asyncio.create_task(self._read(conn), name="hubbub-client-reader")
        try:
            result = await self._send(conn, "authenticate", {"token": self._token})
        except BaseException:
            await conn.close()
            await asyncio.shield(reader)
            raise
        self.identity = result.get("identity")
        self.service_sid = result.get("service_sid")
        user = result.get("user")
        self.user = User.from_json(user) if isinstance(user, dict) else None
        self._conn = conn
        self._reader = reader
        self._connected_at = asyncio.get_running_loop().time()
        self._set_state(ConnectionState.CONNECTED)
        self._ready.set()
        log.info("connected to %s as %s", self.url, self.identity)

    async def _read(self, conn: Connection) -> None:
        async for text in conn.frames():
            try:
                frame = decode(text)
            except MalformedFrame as exc:
                log.warning("ignoring a malformed frame from the server: %s", exc)
                continue
            if isinstance(frame, Reply):
                waiter = self._requests.settle(frame)
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame)
                continue
            try:
                self._on_push(frame.type, frame.data)
            except Exception:
                log.exception("could not handle a %s push", frame.type)
        self.close_code = conn.close_code
        self.close_reason = conn.close_reason
        if self._conn is conn:
            self._conn = None
            if not self._finished:
                self._ready.clear()
        self._fail_pending("the connection dropped")
        self._timeline.suspend()

    async def _supervise(self) -> None:
        try:
            await self._keep_connected()
        except Exception:
            log.exception("the chat client stopped on an unexpected error")
            self._finish(ConnectionState.DISCONNECTED)

    async def _keep_connected(self) -> None:
        while True:
            if self._reader is not None:
                # wait(), not await: cancelling the supervisor must not cancel the reader.
                await asyncio.wait([self._reader])
            action = after_close(self.close_code, can_refresh=self._provider is not None)
            log.info("connection closed (%s): %s", self.close_code, action.value)
            if action in (Action.RECONNECT, Action.REFRESH_THEN_RECONNECT):
                if await self._reconnect(refresh=action is Action.REFRESH_THEN_RECONNECT):
                    continue
                return
            denied = action is Action.DENIED
            self._finish(ConnectionState.DENIED if denied else ConnectionState.DISCONNECTED)
            return

    async def _reconnect(self, *, refresh: bool) -> bool:
        """Try until connected (``True``), or until the token is refused for good (``False``)."""
        self._set_state(ConnectionState.CONNECTING)
        loop = asyncio.get_running_loop()
        if loop.time() - self._connected_at >= STABLE_AFTER:
            self._backoff.reset()
        while True:
            await asyncio.sleep(self._backoff.next_delay())
            if refresh and self._provider is not None:
                try:
                    self._token = await self._provider()
                except Exception:
                    log.warning("the token provider failed; will retry", exc_info=True)
                    continue
            try:
                await self._connect()
            except ChatError as exc:
                # The token was refused, and the server closes with 4001: as after any 4001, a
                # provider may try another token; a fixed one is denied for good.
                log.warning("the server refused the token: %s", exc)
                if after_close(CloseCode.TOKEN_INVALID, can_refresh=self._provider is not None) is (
                    Action.DENIED
                ):
                    self._finish(ConnectionState.DENIED)
                    return False
                refresh = True
                continue
            except _RETRYABLE as exc:
                log.info("reconnecting failed (%s); will retry", type(exc).__name__)
                continue
            self._spawn(self._resync())
            return True

    def _finish(self, state: ConnectionState) -> None:
        self._finished = True
        self._ready.set()
        self._fail_pending(f"the client is {state}")
        self._set_state(state)

    def _fail_pending(self, why: str) -> None:
        for waiter in self._requests.drain():
            if not waiter.done():
                waiter.set_exception(NotConnected(why))

    def _set_state(self, state: ConnectionState) -> None:
        if state is not self.state:
            self.state = state
            self._events.emit("connection_state_changed", state)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        # NotConnected: the connection dropped mid-task; the next one starts over.
        if error is not None and not isinstance(error, NotConnected):
            log.error("a background task of the chat client failed", exc_info=error)

    async def _renew(self) -> None:
        """The token is about to expire: fetch a new one and swap it in."""
        if self._renewing or self._provider is None:
            return  # one renewal at a time is enough
        self._renewing = True
        try:
            await self.update_token(await self._provider())
            log.info("token renewed")
        except Exception as exc:  # the provider's errors are of any type
            log.warning("renewing the token failed: %s", exc)
        finally:
            self._renewing = False

    # -- catching up ---------------------------------------------------------------------------
    async def _resync(self, *, retry: bool = True) -> None:
        """After authenticating: learn the subscribed channels, then bring each up to date.

        Listing the channels is retried while the connection lasts (pushes are held until it
        succeeds), unless ``retry`` is off: ``create`` rather fails.
        """
        conn = self._conn
        while True:
            try:
                result = await self._command("get_subscribed_channels", {})
                break
            except (ChatError, CommandTimeout) as exc:
                if not retry:
                    raise
                log.warning("could not list the subscribed channels (%s); will retry", exc)
                await asyncio.sleep(RESYNC_RETRY)
                if self._conn is not conn:
                    return  # the connection changed; its own resync takes over
        joined = []
        for item in result.get("channels") or []:
            channel = self._remember_subscription(item)
            if channel.status == "joined":
                joined.append(channel.sid)
        for sid, start in self._timeline.plan(joined).items():
            await self._bring_up_to_date(sid, start)

    def _joined(self, channel: Channel) -> None:
        if self._timeline.watch(channel.sid):
            self._spawn(self._bring_up_to_date(channel.sid, None))

    def _left(self, channel: Channel) -> None:
        self._timeline.forget(channel.sid)

    def _seen(self, channel_sid: str, messages: list[Message]) -> None:
        self._timeline.seen(channel_sid, messages)

    async def _bring_up_to_date(self, sid: str, start: int | None) -> None:
        """Report what a channel missed from index ``start`` on (new messages, and edits and
        removals of those known), or fetch its baseline if ``None``."""
        if sid not in self._channels:  # removed meanwhile
            self._deliver(self._timeline.release(sid))
            return
        try:
            if start is None:
                latest, _ = await self._page(sid, 1, None, "backwards")
                self._deliver(self._timeline.release(sid, latest[-1].index if latest else -1))
                return
            anchor: int | None = start
            while anchor is not None:
                page, truncated = await self._page(sid, CATCH_UP_PAGE, anchor, "forwards")
                # A full (or truncated) page holds every message up to its last; a short one,
                # all there are.
                full = len(page) == CATCH_UP_PAGE or truncated
                through = page[-1].index if full and page else None
                self._deliver(self._timeline.catch_up(sid, page, anchor, through))
                anchor = next_anchor(anchor, page, CATCH_UP_PAGE, truncated=truncated)
        except (ChatError, CommandTimeout) as exc:
            # Holding pushes back any longer would hide them; a gap is the lesser harm.
            log.warning("could not catch up channel %s (%s); messages may be missing", sid, exc)
        self._deliver(self._timeline.release(sid))

    async def _page(
        self, sid: str, page_size: int, anchor: int | None, direction: str
    ) -> tuple[list[Message], bool]:
        """A page of history for the client's own use (the window is not told about it), and
        whether the server cut it short to keep its reply small."""
        params: dict[str, Any] = {"channel": sid, "page_size": page_size, "direction": direction}
        if anchor is not None:
            params["anchor"] = anchor
        result = await self._command("get_messages", params)
        messages = [Message.from_json(m, sid, self._media) for m in result.get("messages") or []]
        return messages, result.get("truncated") is True

    def _deliver(self, changes: list[Change[Message]]) -> None:
        for change in changes:
            self._events.emit(change.kind, change.message)

    # -- pushes --------------------------------------------------------------------------------
    def _on_push(self, kind: str, data: dict[str, Any]) -> None:
        channel_sid = data.get("channel_sid")
        if kind in _MESSAGE_EVENTS:
            message = Message.from_json(data.get("message") or {}, channel_sid, self._media)
            self._deliver(self._timeline.push(message.channel_sid, _MESSAGE_EVENTS[kind], message))
        elif kind in _MEMBER_EVENTS:
            self._events.emit(kind, Member.from_json(data.get("member") or {}, channel_sid))
        elif kind in ("typing_started", "typing_ended"):
            self._events.emit(kind, Typing(str(channel_sid), str(data.get("identity", ""))))
        elif kind in _CHANNEL_EVENTS:
            self._events.emit(kind, self._on_channel_push(kind, data.get("channel") or {}))
        elif kind == "user_updated":
            user = User.from_json(data.get("user") or {})
            if user.identity == self.identity:
                self.user = user
            self._events.emit(kind, user)
        elif kind == "token_about_to_expire":
            self._events.emit(kind, data.get("expires_at"))
            if self._provider is not None:
                self._spawn(self._renew())
        elif kind == "token_expired":
            self._events.emit(kind)
        else:
            log.debug("ignoring a %s push", kind)

    def _on_channel_push(self, kind: str, data: dict[str, Any]) -> Channel:
        channel = self._remember(data, _CHANNEL_STATUS.get(kind))
        if kind == "channel_joined":
            self._joined(channel)
        elif kind in ("channel_left", "channel_removed"):
            self._left(channel)
            if kind == "channel_removed":
                self._channels.pop(channel.sid, None)
        return channel

    def _remember(self, data: dict[str, Any], status: Status | None = None) -> Channel:
        """The one ``Channel`` object for this SID, updated from ``data``."""
        sid = str(data.get("sid", ""))
        channel = self._channels.get(sid)
        if channel is None:
            channel = self._channels[sid] = Channel(self, data, status or "known")
        else:
            channel.update_from(data)
            if status is not None:
                channel.status = status
        return channel

    def _remember_subscription(self, item: dict[str, Any]) -> Channel:
        status: Status = "joined" if item.get("member") else "invited"
        return self._remember(item.get("channel") or {}, status)
