"""``/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks``: a channel's own webhooks.

Two of Twilio's three types are served: ``webhook``, called on the channel's events named in
``Configuration.Filters``, and ``trigger``, called for each message whose body holds one of
``Configuration.Triggers``. ``studio`` is refused, since no Studio flow runs here. Every value is
checked with the code Twilio's error dictionary has for it (docs/rest.md lists them), and a
parameter of another type is refused rather than kept unused, so a mistake shows at once.
"""

from __future__ import annotations

from typing import Any

from hubbub.chat import fields, render
from hubbub.chat.errors import (
    CHANNEL_WEBHOOK_FILTER_MISSING,
    CHANNEL_WEBHOOK_TRIGGER_MISSING,
    CHANNEL_WEBHOOK_TYPE_MISSING,
    CHANNEL_WEBHOOK_URL_MISSING,
    CHANNEL_WEBHOOK_URL_TOO_LONG,
    INVALID_CHANNEL_WEBHOOK_FILTER,
    INVALID_CHANNEL_WEBHOOK_FLOW_SID,
    INVALID_CHANNEL_WEBHOOK_TRIGGER,
    INVALID_CHANNEL_WEBHOOK_TYPE,
    INVALID_WEBHOOK_FORMAT,
    INVALID_WEBHOOK_RETRY_COUNT,
    TOO_MANY_CHANNEL_WEBHOOK_TRIGGERS,
    TOO_MANY_CHANNEL_WEBHOOKS,
    invalid,
)
from hubbub.store.errors import LimitExceeded
from hubbub.store.records import MAX_CHANNEL_WEBHOOKS, ChannelWebhook, WebhookType
from hubbub.web.endpoint import Call, Result, Table
from hubbub.web.paging import envelope, page_request
from hubbub.web.params import Params
from hubbub.webhooks import targets
from hubbub.webhooks.events import CHANNEL_POST_EVENTS, PRE_EVENTS

URL = "Configuration.Url"
METHOD = "Configuration.Method"
FILTERS = "Configuration.Filters"
TRIGGERS = "Configuration.Triggers"
FLOW_SID = "Configuration.FlowSid"
RETRY_COUNT = "Configuration.RetryCount"
#: Twilio's limit on a trigger webhook's words; one word's length is hubbub's.
MAX_TRIGGERS = 5
MAX_TRIGGER = 256

_SERVED: dict[str, WebhookType] = {"webhook": "webhook", "trigger": "trigger"}
_ALLOWED_FILTERS = ", ".join(sorted(CHANNEL_POST_EVENTS))


def create_webhook(call: Call) -> Result:
    service_sid = call.service_sid()
    form = call.form
    given = form.text("Type")
    if given is None:
        raise invalid(
            "Missing required parameter Type in the post body", CHANNEL_WEBHOOK_TYPE_MISSING
        )
    kind = _served(given)
    config = _configuration(form, kind, creating=True)
    try:
        hook = call.ctx.store.create_channel_webhook(
            service_sid, call.path("ChannelSid"), type=kind, **config
        )
    except LimitExceeded:
        raise invalid(
            f"A channel has at most {MAX_CHANNEL_WEBHOOKS} webhooks: delete one to add another",
            TOO_MANY_CHANNEL_WEBHOOKS,
        ) from None
    _changed(call, hook)
    return 201, render.channel_webhook(hook, call.account_sid, call.urls)


def fetch_webhook(call: Call) -> Result:
    hook = call.ctx.store.get_channel_webhook(
        call.service_sid(), call.path("ChannelSid"), call.path("Sid")
    )
    return 200, render.channel_webhook(hook, call.account_sid, call.urls)


def update_webhook(call: Call) -> Result:
    store, service_sid = call.ctx.store, call.service_sid()
    channel, sid = call.path("ChannelSid"), call.path("Sid")
    current = store.get_channel_webhook(service_sid, channel, sid)
    form = call.form
    given = form.text("Type")
    if given is not None and given != current.type:
        raise invalid(
            f"Type cannot change: this webhook is a {current.type}; create another instead",
            INVALID_CHANNEL_WEBHOOK_TYPE,
        )
    config = _configuration(form, _served(current.type), creating=False)
    hook = store.update_channel_webhook(service_sid, channel, sid, **config)
    _changed(call, hook)
    return 200, render.channel_webhook(hook, call.account_sid, call.urls)


def delete_webhook(call: Call) -> Result:
    store, service_sid = call.ctx.store, call.service_sid()
    channel, sid = call.path("ChannelSid"), call.path("Sid")
    hook = store.get_channel_webhook(service_sid, channel, sid)
    store.delete_channel_webhook(service_sid, hook.channel_sid, sid)
    _changed(call, hook)
    return 204, None


def _changed(call: Call, hook: ChannelWebhook) -> None:
    """Every process reads the channel's webhooks again (they are cached briefly)."""
    call.ctx.publish(targets.changed(hook.service_sid, hook.channel_sid))


def list_webhooks(call: Call) -> Result:
    page = page_request(call.query)
    found = call.ctx.store.list_channel_webhooks(
        call.service_sid(), call.path("ChannelSid"), limit=page.size, cursor=page.token
    )
    items = [render.channel_webhook(hook, call.account_sid, call.urls) for hook in found.items]
    return 200, envelope("webhooks", items, page, call.url, found.next_cursor)


def _served(kind: str) -> WebhookType:
    """``kind`` if hubbub serves webhooks of that type."""
    if kind == "studio":
        raise invalid(
            "Type studio is not served: hubbub runs no Studio flows (use webhook or trigger)",
            INVALID_CHANNEL_WEBHOOK_TYPE,
        )
    if kind not in _SERVED:
        raise invalid(
            f"Type must be webhook or trigger, not {fields.shown(kind)}",
            INVALID_CHANNEL_WEBHOOK_TYPE,
        )
    return _SERVED[kind]


def _configuration(form: Params, kind: WebhookType, *, creating: bool) -> dict[str, Any]:
    """What the form sets for a webhook of type ``kind``, each value checked. On creation the
    defaults fill in and what the type needs must be given; an update keeps what is not."""
    config: dict[str, Any] = {}
    if FLOW_SID in form:
        raise invalid(
            f"{FLOW_SID} belongs to studio webhooks, which hubbub does not serve",
            INVALID_CHANNEL_WEBHOOK_FLOW_SID,
        )
    url = form.text(URL)
    if url is not None:
        config["url"] = fields.webhook_url(
            url, URL, INVALID_WEBHOOK_FORMAT, too_long=CHANNEL_WEBHOOK_URL_TOO_LONG
        )
    elif creating:
        raise invalid(
            f"Missing required parameter {URL} in the post body", CHANNEL_WEBHOOK_URL_MISSING
        )
    method = form.text(METHOD)
    if method is not None:
        config["method"] = fields.webhook_method(method, METHOD)
    elif creating:
        config["method"] = "POST"
    retries = form.integer(RETRY_COUNT, minimum=0, maximum=3, code=INVALID_WEBHOOK_RETRY_COUNT)
    if retries is not None:
        config["retry_count"] = retries
    if kind == "webhook":
        _refuse(form, TRIGGERS, "trigger", INVALID_CHANNEL_WEBHOOK_TRIGGER)
        if FILTERS in form:
            config["filters"] = _filters(form)
        elif creating:
            raise invalid(
                f"A webhook needs at least one event in {FILTERS}", CHANNEL_WEBHOOK_FILTER_MISSING
            )
    else:
        _refuse(form, FILTERS, "webhook", INVALID_CHANNEL_WEBHOOK_FILTER)
        if TRIGGERS in form:
            config["triggers"] = _triggers(form)
        elif creating:
            raise invalid(
                f"A trigger needs at least one word in {TRIGGERS}", CHANNEL_WEBHOOK_TRIGGER_MISSING
            )
    return config


def _refuse(form: Params, name: str, kind: str, code: int) -> None:
    if name in form:
        raise invalid(f"{name} is only for webhooks of type {kind}", code)


def _filters(form: Params) -> list[str]:
    names = list(dict.fromkeys(form.repeated(FILTERS, max_length=fields.MAX_TEXT)))
    for name in names:
        if name not in CHANNEL_POST_EVENTS:
            why = "a pre-event" if name in PRE_EVENTS else "not an event of a channel"
            raise invalid(
                f"{FILTERS}: {fields.shown(name)} is {why}; a channel webhook is called after "
                f"one of {_ALLOWED_FILTERS}",
                INVALID_CHANNEL_WEBHOOK_FILTER,
            )
    return names


def _triggers(form: Params) -> list[str]:
    words = list(dict.fromkeys(form.repeated(TRIGGERS, max_length=fields.MAX_TEXT)))
    if len(words) > MAX_TRIGGERS:
        raise invalid(
            f"{TRIGGERS} has {len(words)} words; at most {MAX_TRIGGERS} are allowed",
            TOO_MANY_CHANNEL_WEBHOOK_TRIGGERS,
        )
    for word in words:
        if not word.strip() or len(word) > MAX_TRIGGER:
            raise invalid(
                f"{TRIGGERS}: each is 1 to {MAX_TRIGGER} characters, not all spaces, "
                f"not {fields.shown(word)}",
                INVALID_CHANNEL_WEBHOOK_TRIGGER,
            )
    return words


_WEBHOOKS = "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks"
TABLE: Table = [
    (_WEBHOOKS, "GET", list_webhooks),
    (_WEBHOOKS, "POST", create_webhook),
    (_WEBHOOKS + "/{Sid}", "GET", fetch_webhook),
    (_WEBHOOKS + "/{Sid}", "POST", update_webhook),
    (_WEBHOOKS + "/{Sid}", "DELETE", delete_webhook),
]
