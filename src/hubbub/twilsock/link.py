"""A twilsock connection's share of the node: a ``Link`` whose session is twilsock's, which
hears Sync events and typing, and replays what a subscriber missed before it hears more.

The hub hands it the same events as any connection; it sends only those Twilio's SDKs know:
the events of the Sync objects it follows (``twilio.sync.event``) and typing in its channels
(``twilio.ipmsg.typing_indicator``). Each is encoded once for all its twilsock recipients
(``Outgoing.derived``).

Subscribing to an object first makes the link follow it in the hub, holding back its live
events; then the journal's events after the client's ``last_event_id`` are read and sent, then
the live ones held back that are newer, then ``subscription_established``: nothing is lost
between the client's read and its subscription, or across a reconnect, and nothing comes twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hubbub.chat.core import Actor
from hubbub.chat.render import date
from hubbub.realtime.commands import Commands
from hubbub.realtime.link import Link, Transport
from hubbub.realtime.node import Node
from hubbub.realtime.protocol import BinaryOutgoing, CloseCode, Outgoing
from hubbub.realtime.session import Step
from hubbub.store import NotFound
from hubbub.store.records import SyncEvent
from hubbub.sync import objects
from hubbub.sync.journal import replayed
from hubbub.sync.objects import CHANNEL_DOCUMENT, MESSAGES, ROSTER
from hubbub.twilsock.api import Api, Subscribe
from hubbub.twilsock.session import Later, TwilsockSession, close_frame, notification

log = logging.getLogger("hubbub.gateway")

SYNC_EVENT = "twilio.sync.event"
TYPING = "twilio.ipmsg.typing_indicator"
#: The most events replayed to one object, and to one subscription request (all its objects).
#: The replay is reported complete even when the journal no longer has all the client missed
#: (older than its retention, or more than this): the SDKs answer "interrupted" by subscribing
#: again, which would only repeat it.
REPLAY_LIMIT = 1_000
REPLAY_BUDGET = 10_000
_NOTHING = False
#: (object_sid, object_type, replay_status, last_event_id, events) of each subscription.
Replay = tuple[str, str, str, int, list[SyncEvent]]


def derive(outgoing: Outgoing) -> BinaryOutgoing | None:
    """The twilsock notification for a hub frame (``None`` if twilsock clients do not hear
    it), made once per frame for all its recipients."""
    derived = outgoing.derived
    if derived is None:
        frame = outgoing.frame
        if "event_type" in frame:
            # Empty: the journal found its channel gone before it could write it.
            has_event = bool(frame.get("event"))
            derived = BinaryOutgoing(notification(SYNC_EVENT, frame)) if has_event else _NOTHING
        elif frame.get("type") == "typing_started":
            payload = {
                "channel_sid": frame["channel_sid"],
                "identity": frame["identity"],
                "typing_timeout": frame.get("typing_timeout", 5),
            }
            derived = BinaryOutgoing(notification(TYPING, payload))
        else:
            derived = _NOTHING
        outgoing.derived = derived
    return derived or None


#: ``Api``s of the ``Commands`` of each base URL, as many as ``Node`` keeps ``Commands``.
_apis: dict[Commands, Api] = {}
_APIS = 64


def api_for(commands: Commands) -> Api:
    """One ``Api`` per ``Commands`` (per base URL), not one per connection; past ``_APIS``
    (the Host header is the client's), one per connection, kept by nothing else."""
    api = _apis.get(commands)
    if api is None:
        api = Api(commands)
        if len(_apis) < _APIS:
            _apis[commands] = api
    return api


class TwilsockLink(Link):
    __slots__ = ("replaying",)

    def __init__(self, node: Node, commands: Commands, transport: Transport) -> None:
        session = TwilsockSession(
            commands, api_for(commands), now=node.clock(), warning=node.warning
        )
        super().__init__(node, commands, transport, session)  # type: ignore[arg-type]
        self.push = self._hear
        #: Objects being subscribed to: their live events, held back until the replay is sent.
        self.replaying: dict[str, list[Outgoing]] = {}

    def _hear(self, outgoing: Outgoing) -> None:
        frame = outgoing.frame
        if frame.get("type") == "channel_left":
            # (A removed channel's objects tell their followers so, then fall silent.)
            self._forget(frame["channel"]["sid"])
        derived = derive(outgoing)
        if derived is None:
            return
        if frame.get("type") == "typing_started" and frame.get("identity") == self.identity:
            return  # the SDKs would show their own user typing
        if self.replaying and "event_type" in outgoing.frame:
            held = self.replaying.get(_object_sid(outgoing.frame["event"]))
            if held is not None:
                held.append(outgoing)
                return
        self.transport.push(derived)

    def _forget(self, channel_sid: str) -> None:
        """This user left the channel (or was removed from it): no more of its objects'
        events, whatever the client still follows."""
        for kind in (CHANNEL_DOCUMENT, MESSAGES, ROSTER):
            sid = objects.of(kind, channel_sid)
            self.node.hub.unfollow(self, sid)
            self.replaying.pop(sid, None)

    def missed(self) -> None:
        """Its client reconnects (308, with the SDK's backoff) and subscribes again naming
        the last events it has: the journal replays what the broker lost."""
        if self.registered and not self.session.closed:
            self.end(CloseCode.TRY_AGAIN_LATER, "events may have been missed; reconnect")

    def end(self, code: CloseCode, reason: str) -> None:
        if not self.session.closed and code is not CloseCode.NORMAL:
            frame = close_frame(code, reason).frame
            if isinstance(frame, Outgoing):
                self.transport.push(frame)
        super().end(code, reason)

    def perform(self, step: Step) -> None:
        super().perform(step)
        for work in step.then:
            if isinstance(work, Subscribe) and not self.session.closed:
                self._subscribe(work)
            elif isinstance(work, Later):
                self.node.schedule(self.node.clock() + work.seconds, self._later(work))

    def _later(self, work: Later) -> Callable[[], None]:
        def perform() -> None:
            if not self.session.closed:
                self.perform(Step(work.actions))

        return perform

    # -- subscriptions -------------------------------------------------------------------------
    def _subscribe(self, request: Subscribe) -> None:
        hub = self.node.hub
        if not self.registered:
            return
        refused = [
            {"object_sid": sid, "object_type": kind, "error": error}
            for sid, kind, error in request.refused
        ]
        if refused:
            self._notify("subscription_failed", request.correlation_id, refused)
        if request.action == "cancel":
            for sid, _, _ in request.accepted:
                hub.unfollow(self, sid)
                self.replaying.pop(sid, None)
            canceled = [
                {"object_sid": sid, "object_type": kind} for sid, kind, _ in request.accepted
            ]
            self._notify("subscription_canceled", request.correlation_id, canceled)
            return
        for sid, _, _ in request.accepted:
            hub.follow(self, sid)
            self.replaying.setdefault(sid, [])
        self.node.executor.submit(
            self._read_replay,
            (request.accepted,),
            lambda done: self._replayed(request, done),
        )

    def _read_replay(self, accepted: list[tuple[str, str, int | None]]) -> list[Replay]:
        store = self.node.store
        lasts = store.last_event_ids([sid for sid, _, _ in accepted])
        found: list[Replay] = []
        who = self.session.who
        budget = REPLAY_BUDGET
        for sid, kind, after in accepted:
            last = lasts[sid]
            events: list[SyncEvent] = []
            ref = objects.parse(sid)
            try:
                if after is None or after >= last or ref is None:
                    pass
                elif ref.type == "document":
                    # A document's events are not kept: it is sent as it is now.
                    if who is not None:
                        events = [self._document_now(who.actor, ref, last)]
                else:
                    limit = max(0, min(REPLAY_LIMIT, budget))
                    events = store.events_after(sid, max(after, last - limit), limit=limit)
                    if not events or events[0].id != after + 1:
                        log.info("the Sync journal no longer has all the events a client missed")
            except NotFound:  # its channel went meanwhile: its removal is among the events
                events = []
            budget -= len(events)
            found.append((sid, kind, "completed", last, events))
        return found

    def _document_now(self, actor: Actor, ref: objects.Ref, last: int) -> SyncEvent:
        data = api_for(self.session.commands).reads.descriptor(actor, ref)["data"]
        body = {"document_data": data, "date_created": date(datetime.now(UTC))}
        return SyncEvent(ref.sid, last, "document_updated", body)

    def _replayed(self, request: Subscribe, done: Any) -> None:
        if isinstance(done, Exception):
            log.error("reading a subscription's missed events failed", exc_info=done)
            for sid, _, _ in request.accepted:
                self.node.hub.unfollow(self, sid)
                self.replaying.pop(sid, None)
            failed = [
                {"object_sid": sid, "object_type": kind, "error": {"code": 20500, "status": 500}}
                for sid, kind, _ in request.accepted
            ]
            self._notify("subscription_failed", request.correlation_id, failed)
            return
        established = []
        hub = self.node.hub
        for sid, kind, status, last, events in done:
            held = self.replaying.pop(sid, None)
            if self.session.closed or not hub.follows(self, sid):
                continue  # canceled meanwhile, or the connection is over
            high = last
            for event in events:
                self._send_event(replayed(event), request.correlation_id)
                high = max(high, event.id)
            # In id order, whatever order nodes and threads published them in; only those
            # the replay did not cover.
            for outgoing in sorted(held or (), key=lambda o: int(o.frame["event"]["id"])):
                event_id = outgoing.frame["event"]["id"]
                derived = derive(outgoing)
                if event_id > high and derived is not None:
                    self.transport.push(derived)
                    high = event_id
            established.append(
                {
                    "object_sid": sid,
                    "object_type": kind,
                    "replay_status": status,
                    "last_event_id": high,
                }
            )
        if established:
            self._notify("subscription_established", request.correlation_id, established)

    def _send_event(self, event: Any, correlation_id: Any) -> None:
        payload = {**event.frame, "correlation_id": correlation_id}
        self.transport.push(BinaryOutgoing(notification(SYNC_EVENT, payload)))

    def _notify(self, kind: str, correlation_id: Any, events: list[dict[str, Any]]) -> None:
        """One notification per object: the SDKs of twilio-sync 1.x read only ``event``."""
        for event in events:
            payload = {"event_type": kind, "correlation_id": correlation_id, "event": event}
            self.transport.push(BinaryOutgoing(notification(SYNC_EVENT, payload)))


def _object_sid(event: dict[str, Any]) -> str:
    for key in ("map_sid", "list_sid", "document_sid"):
        if key in event:
            return str(event[key])
    return ""
