"""Chat Service actions that reach connected clients."""

from __future__ import annotations

from hubbub.chat import render
from hubbub.chat.core import Actor, Core, Outcome
from hubbub.chat.events import service_deleted


def delete_service(core: Core, actor: Actor) -> Outcome:
    """Remove the actor's Chat Service with everything in it; its sessions end."""
    service = core.store.get_service(actor.account_sid, actor.service_sid)
    core.before("delete_service", actor, {"service_sid": service.sid})
    core.store.delete_service(actor.account_sid, service.sid)
    rendered = render.service(service, actor.urls)
    return core.done("delete_service", actor, Outcome(rendered, [service_deleted(service.sid)]))
