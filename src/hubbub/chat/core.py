"""What every chat operation is given: the store, who acts, and the hooks around the action.

``Actor`` is who acts: a user with an identity (an SDK or the page, over a socket), whose
roles limit what they may do, or the application's own server over REST (no identity), which
no role limits. ``Core`` carries the store, the short-lived lookups and the ``Hooks``; the
hooks are the one place where a pre-action hook (which may veto or change the values) and a
post-action hook (which follows what happened) attach, for every door at once.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from hubbub.chat.events import Event
from hubbub.chat.render import Urls
from hubbub.store import Store

if TYPE_CHECKING:
    from hubbub.chat.lookups import Lookups

#: Twilio's names for where an action came from, as its webhooks report them.
Source = Literal["SDK", "API"]
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs an action, in which Chat Service, and where its answer's URLs point."""

    account_sid: str
    service_sid: str
    urls: Urls
    #: The user acting; ``None`` for the application's server over REST.
    identity: str | None = None
    #: REST's ``X-Twilio-Webhook-Enabled``: whether its writes are followed by post-action hooks.
    webhooks: bool = True

    @property
    def source(self) -> Source:
        return "API" if self.identity is None else "SDK"


@dataclass(slots=True)
class Outcome:
    """What an action made (rendered as the REST API shows it) and the events it caused."""

    resource: dict[str, Any] | None = None
    events: list[Event] = field(default_factory=list)


class Hooks(Protocol):
    """Called around every action, whichever door it came through."""

    def calls_out(self, account_sid: str, service_sid: str) -> bool:
        """Whether ``before`` may wait on the network for users' actions in the service: the
        doors then run those actions off the event loop."""
        ...

    def before(self, action: str, actor: Actor, values: V, subject: object = None) -> V:
        """Before anything is written: return the values to use, or raise ``ApiError`` to
        refuse the action. ``subject`` is the record the action changes, if it exists yet."""
        ...

    def after(self, action: str, actor: Actor, outcome: Outcome) -> None:
        """Inside the action's transaction (``Store.atomic``), once the action cannot fail
        (after its writes; a delete's, just before): what this writes is committed with them.
        Must not wait on anything but the store."""


class Recorder(Protocol):
    """Follows every action's events with events of its own, written with them: the journal
    of the Sync objects that Twilio's SDKs read (``hubbub.sync.journal``)."""

    def record(self, store: Store, actor: Actor, events: list[Event]) -> list[Event]:
        """Inside the action's transaction: ``events``, with what follows them as riders."""
        ...


class Follower(Protocol):
    """Follows what happened, like a post-action hook, whatever the actor's webhook settings:
    push notifications (``hubbub.notify.notifier``)."""

    def after(self, action: str, actor: Actor, outcome: Outcome) -> None:
        """Inside the action's transaction; writes only to the store."""
        ...


class NoHooks:
    def calls_out(self, account_sid: str, service_sid: str) -> bool:
        return False

    def before(self, action: str, actor: Actor, values: V, subject: object = None) -> V:
        return values

    def after(self, action: str, actor: Actor, outcome: Outcome) -> None:
        pass


@dataclass(slots=True)
class Core:
    store: Store
    #: Short-lived copies for the checks of the busiest actions (sending, typing); without
    #: them every check reads the store.
    lookups: Lookups | None = None
    hooks: Hooks = field(default_factory=NoHooks)
    journal: Recorder | None = None
    #: What follows every action besides the hooks: push notifications.
    notifier: Follower | None = None

    def before(self, action: str, actor: Actor, values: V, subject: object = None) -> V:
        return self.hooks.before(action, actor, values, subject)

    def atomic(self) -> AbstractContextManager[None]:
        """Where an action writes and calls ``done``: its writes and what the post-action
        hooks write are committed together."""
        return self.store.atomic()

    def done(self, action: str, actor: Actor, outcome: Outcome) -> Outcome:
        """``outcome``, once the post-action hooks have seen it."""
        self.hooks.after(action, actor, outcome)
        if self.notifier is not None:
            self.notifier.after(action, actor, outcome)
        outcome.events = self.recorded(actor, outcome.events)
        return outcome

    def recorded(self, actor: Actor, events: list[Event]) -> list[Event]:
        """``events`` as the journal has them: with the Sync events they cause as riders (for
        events that something else than an action caused, too: reachability)."""
        journal = self.journal
        return events if journal is None else journal.record(self.store, actor, events)
