"""Events: what a chat action tells the connected clients, and who hears it.

An event is a frame and an audience; the hub resolves the audience to connections. Changes to
who hears a channel travel with the event that causes them (``follow``), so the hub never has
to read frames to keep its subscriptions right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

#: Where an event goes: ("channel", channel_sid), ("user", service_sid, identity),
#: ("object", sync_object_sid) (the connections following a Sync object: ``hubbub.sync``),
#: ("service", service_sid), or ("peers", service_sid, identity, *channel_sids): the user and
#: everyone in those channels, each connection once; ("nobody",) for news that only the
#: processes themselves heed (their caches).
Audience = tuple[str, ...]

#: How an event changes subscriptions, applied before it is delivered: the user's connections
#: join or leave the channel, or everyone subscribed to it stops being so after it ("close").
Follow = tuple[Literal["join", "leave", "close"], str]


@dataclass(frozen=True, slots=True)
class Event:
    audience: Audience
    frame: dict[str, Any]
    #: For a state that lapses by itself (typing): seconds until its ``_ended`` event.
    ends_after: float | None = None
    follow: Follow | None = None
    #: Set on events that end their audience's sessions (code 4004) rather than reach them:
    #: the user, or the whole Chat Service, was deleted. Why, in a few words.
    ends_sessions: str | None = None
    #: Events of other audiences that travel with this one, through the broker and the hubs,
    #: delivered after it: the Sync journal's for the same change (``hubbub.sync.journal``).
    #: One message on the broker, not several.
    riders: tuple[Event, ...] = ()


def channel_event(kind: str, channel_sid: str, **data: Any) -> Event:
    """A push to everyone in the channel."""
    return Event(("channel", channel_sid), {"type": kind, "channel_sid": channel_sid, **data})


def user_event(kind: str, service_sid: str, identity: str, **data: Any) -> Event:
    """A push to the user's own connections."""
    return Event(("user", service_sid, identity), {"type": kind, **data})


def service_event(kind: str, service_sid: str, **data: Any) -> Event:
    """A push to every connection of the Chat Service."""
    return Event(("service", service_sid), {"type": kind, **data})


def joined(service_sid: str, identity: str, channel: dict[str, Any]) -> Event:
    """``channel_joined`` for the user, whose connections now hear the channel."""
    event = user_event("channel_joined", service_sid, identity, channel=channel)
    return Event(event.audience, event.frame, follow=("join", channel["sid"]))


def left(service_sid: str, identity: str, channel: dict[str, Any]) -> Event:
    """``channel_left`` for the user, whose connections stop hearing the channel."""
    event = user_event("channel_left", service_sid, identity, channel=channel)
    return Event(event.audience, event.frame, follow=("leave", channel["sid"]))


def removed(channel: dict[str, Any]) -> Event:
    """``channel_removed`` to everyone in it, who then hear it no more."""
    event = channel_event("channel_removed", channel["sid"], channel=channel)
    return Event(event.audience, event.frame, follow=("close", channel["sid"]))


def user_updated(user: dict[str, Any], channel_sids: list[str]) -> Event:
    """A user's change, pushed to the user and to everyone who shares a channel with them."""
    audience = ("peers", user["service_sid"], user["identity"], *channel_sids)
    return Event(audience, {"type": "user_updated", "user": user})


def user_deleted(service_sid: str, identity: str) -> Event:
    return Event(
        ("user", service_sid, identity),
        {"type": "user_deleted"},
        ends_sessions="the user was deleted",
    )


def service_deleted(service_sid: str) -> Event:
    return Event(
        ("service", service_sid),
        {"type": "service_deleted"},
        ends_sessions="the Chat Service was deleted",
    )
