"""The chat core's hooks, as Twilio's webhooks: pre-event calls and post-event deliveries.

Twilio's rules, which servers moving from it depend on:

- Pre-event webhooks are called only for users' actions (an SDK, a socket, the page), never
  for the application's own REST calls. They are called before anything is written, in the
  action's own thread (the doors run the actions of a service that has one off the event loop).
  Any answer but a 2xx, or no answer after the retries, refuses the action; a 2xx with a JSON
  object may change the values Twilio lets it change (``REWRITABLE``).
- Post-event webhooks follow users' actions, and REST ones whose request said
  ``X-Twilio-Webhook-Enabled: true``. They are queued in the outbox in the action's own
  transaction (the doors wrap the write and ``Core.done`` in ``Store.atomic``), and the courier
  sends them; nothing here waits for a receiver.

The service's webhook goes to its ``PreWebhookUrl``/``PostWebhookUrl`` for the events named in
its ``WebhookFilters``. A channel's own webhooks (post-event only) go to their URL for the
events in their filters (type ``webhook``), or for each message whose body holds one of their
trigger words (type ``trigger``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from hubbub.chat import fields, render, users
from hubbub.chat.core import Actor, Outcome
from hubbub.chat.errors import ApiError
from hubbub.store import Store
from hubbub.store.records import Channel, ChannelWebhook, Member, Message, NewDelivery, User
from hubbub.webhooks import params
from hubbub.webhooks.events import EVENTS
from hubbub.webhooks.sender import Attempt, Sender
from hubbub.webhooks.targets import Targets

log = logging.getLogger("hubbub.webhooks")
V = TypeVar("V")

#: Twilio's code for a refusal, as the client sees it: the action is forbidden.
REFUSED = 20403
#: What a pre-event webhook's JSON answer may change, per event: its key -> the store's.
REWRITABLE: dict[str, dict[str, str]] = {
    "onMessageSend": {"body": "body", "attributes": "attributes"},
    "onMessageUpdate": {"body": "body", "attributes": "attributes"},
    "onChannelAdd": {
        "friendlyName": "friendly_name",
        "uniqueName": "unique_name",
        "attributes": "attributes",
    },
    "onChannelUpdate": {
        "friendlyName": "friendly_name",
        "uniqueName": "unique_name",
        "attributes": "attributes",
    },
    "onUserUpdate": {"friendlyName": "friendly_name", "attributes": "attributes"},
}
_CHECKS: dict[str, Callable[[str, str], str]] = {
    "body": fields.body,
    "attributes": fields.attributes,
    "unique_name": fields.unique_name,
    "friendly_name": lambda value, name: value,
}


class WebhookHooks:
    """``chat.core.Hooks`` that call and queue a service's and its channels' webhooks."""

    def __init__(
        self,
        store: Store,
        sender: Sender,
        targets: Targets,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.sender = sender
        self.targets = targets
        self._clock = clock

    def calls_out(self, account_sid: str, service_sid: str) -> bool:
        """Whether users' actions in the service may wait on a pre-event webhook."""
        return self.targets.service(account_sid, service_sid).pre_url is not None

    # -- pre-event -----------------------------------------------------------------------------
    def before(self, action: str, actor: Actor, values: V, subject: object = None) -> V:
        names = EVENTS.get(action)
        if actor.identity is None or names is None or not isinstance(values, dict):
            return values
        event = names[0]
        hooks = self.targets.service(actor.account_sid, actor.service_sid)
        if hooks.pre_url is None or event not in hooks.filters:
            return values
        rendered = _rendered(self.store, subject, actor, params.kind(event))
        sent = params.build(event, actor, rendered, values, _reason(event, actor, subject))
        attempt = self._call(
            actor.account_sid, hooks.pre_url, hooks.method, sent, hooks.pre_retry_count
        )
        response = attempt.response
        if not attempt.ok or response is None:
            # The details (the receiver's address, its error) are the operator's, not the user's.
            log.info("pre-event webhook %s refused %s: %s", event, action, attempt.describe())
            status = f" (status {response.status})" if response is not None else ""
            raise ApiError(403, REFUSED, f"The service's pre-event webhook refused {event}{status}")
        return cast(V, _rewritten(event, values, response.body))

    def _call(
        self, account_sid: str, url: str, method: str, sent: params.Params, retry_count: int
    ) -> Attempt:
        attempt = Attempt(None, "not sent")
        for retry in range(retry_count + 1):
            attempt = self.sender.attempt(account_sid, url, method, sent, retry)
            if not attempt.retryable:
                break
        return attempt

    # -- post-event ----------------------------------------------------------------------------
    def after(self, action: str, actor: Actor, outcome: Outcome) -> None:
        names = EVENTS.get(action)
        if names is None or not actor.webhooks or outcome.resource is None:
            return
        event = names[1]
        resource = outcome.resource
        # (url, method, retry count) of every webhook this event goes to.
        to: list[tuple[str, str, int]] = []
        hooks = self.targets.service(actor.account_sid, actor.service_sid)
        if hooks.post_url is not None and event in hooks.filters:
            to.append((hooks.post_url, hooks.method, hooks.post_retry_count))
        channel_sid = _channel_of(event, resource)
        if channel_sid is not None:
            for hook in self.targets.channel(actor.service_sid, channel_sid):
                if hook.url is not None and _fires(hook, event, resource):
                    to.append((hook.url, hook.method or "POST", hook.retry_count))
        if not to:
            return
        extra = _removed(event, actor, resource, self._clock)
        sent = params.build(event, actor, resource, extra=extra)
        where = channel_sid or actor.service_sid  # a channel's events in order; a user's apart
        self.store.queue_deliveries(
            [
                NewDelivery(_lane(where, url), actor.account_sid, url, method, sent, retries)
                for url, method, retries in to
            ]
        )


def _fires(hook: ChannelWebhook, event: str, resource: Mapping[str, Any]) -> bool:
    """Whether a channel's webhook is called for ``event``: for its filters, or (a trigger) for
    a message holding one of its words."""
    if hook.type == "webhook":
        return event in hook.filters
    if hook.type == "trigger" and event == "onMessageSent":
        words = set(re.findall(r"\w+", (resource.get("body") or "").lower()))
        return any(trigger.lower() in words for trigger in hook.triggers)
    return False


def _lane(where: str, url: str) -> str:
    """Each receiver has the events of a channel in order, and a slow one holds up only
    itself: one lane per channel (or service) and URL."""
    return f"{where}:{hashlib.sha256(url.encode()).hexdigest()[:16]}"


def _channel_of(event: str, resource: Mapping[str, Any]) -> str | None:
    """The channel an event happened in, if any (a user's events are in none)."""
    if params.kind(event) == "Channel":
        return str(resource["sid"])
    channel_sid = resource.get("channel_sid")
    return None if channel_sid is None else str(channel_sid)


def _rendered(store: Store, subject: object, actor: Actor, kind: str) -> dict[str, Any]:
    """The record a pre-event is about, as the REST API renders it; a new message or member
    has only its channel (``subject``) so far."""
    if isinstance(subject, Channel) and kind != "Channel":
        return {"channel_sid": subject.sid}
    if isinstance(subject, Message):
        return render.message(subject, actor.account_sid, actor.urls)
    if isinstance(subject, Member):
        return render.member(subject, actor.account_sid, actor.urls)
    if isinstance(subject, User):
        shown = users.reachability(store, actor.account_sid, actor.service_sid)
        return render.user(subject, actor.account_sid, actor.urls, reachability=shown)
    if isinstance(subject, Channel):
        return render.channel(subject, actor.account_sid, actor.urls)
    return {}


def _reason(event: str, actor: Actor, subject: object) -> dict[str, str] | None:
    """Why a member is about to go: they leave, or someone removes them."""
    if event == "onMemberRemove" and isinstance(subject, Member):
        return {"Reason": "LEFT" if subject.identity == actor.identity else "REMOVED"}
    return None


def _removed(
    event: str, actor: Actor, resource: Mapping[str, Any], clock: Callable[[], float]
) -> dict[str, str] | None:
    if event != "onMemberRemoved":
        return None
    reason = "LEFT" if resource.get("identity") == actor.identity else "REMOVED"
    removed = render.date(datetime.fromtimestamp(clock(), UTC)) or ""
    return {"Reason": reason, "DateRemoved": removed}


def _rewritten(event: str, values: dict[str, Any], body: bytes) -> dict[str, Any]:
    """``values`` with what the webhook's JSON answer changes, checked like a client's own."""
    allowed = REWRITABLE.get(event)
    if not allowed or not body.strip():
        return values
    try:
        answer = json.loads(body)
    except ValueError:
        return values  # an answer that is not JSON allows the action as it is
    if not isinstance(answer, dict):
        return values
    changed = dict(values)
    for key, field in allowed.items():
        if key not in answer:
            continue
        value = answer[key]
        if field == "attributes" and not isinstance(value, str):
            value = json.dumps(value, separators=(",", ":"))
        if not isinstance(value, str):
            raise ApiError(403, REFUSED, f"The pre-event webhook's {key} is not a string")
        changed[field] = _CHECKS[field](value, key)
    return changed
