"""Grants: what an Access Token allows, one class per Twilio product.

Constructor arguments and payloads are twilio-python 9.x's, so these are drop-ins for
``twilio.jwt.access_token.grants``. A field appears in the payload only when it is truthy.
"""

from __future__ import annotations

from typing import Any


class AccessTokenGrant:
    """Base class of every grant: a ``key`` in the token's ``grants`` and its payload."""

    key: str = ""

    def to_payload(self) -> Any:
        raise NotImplementedError("a grant must implement to_payload()")

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self.to_payload()}>"


def _truthy(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value}


class ChatGrant(AccessTokenGrant):
    """Access to a Programmable Chat Service; the token must name an identity."""

    key = "chat"

    def __init__(
        self,
        service_sid: str | None = None,
        endpoint_id: str | None = None,
        deployment_role_sid: str | None = None,
        push_credential_sid: str | None = None,
    ) -> None:
        self.service_sid = service_sid
        self.endpoint_id = endpoint_id
        self.deployment_role_sid = deployment_role_sid
        self.push_credential_sid = push_credential_sid

    def to_payload(self) -> dict[str, Any]:
        return _truthy(
            service_sid=self.service_sid,
            endpoint_id=self.endpoint_id,
            deployment_role_sid=self.deployment_role_sid,
            push_credential_sid=self.push_credential_sid,
        )


class SyncGrant(AccessTokenGrant):
    """Access to a Sync Service."""

    key = "data_sync"

    def __init__(self, service_sid: str | None = None, endpoint_id: str | None = None) -> None:
        self.service_sid = service_sid
        self.endpoint_id = endpoint_id

    def to_payload(self) -> dict[str, Any]:
        return _truthy(service_sid=self.service_sid, endpoint_id=self.endpoint_id)


class VoiceGrant(AccessTokenGrant):
    """Access to Programmable Voice."""

    key = "voice"

    def __init__(
        self,
        incoming_allow: bool | None = None,
        outgoing_application_sid: str | None = None,
        outgoing_application_params: dict[str, Any] | None = None,
        push_credential_sid: str | None = None,
        endpoint_id: str | None = None,
    ) -> None:
        self.incoming_allow = incoming_allow
        self.outgoing_application_sid = outgoing_application_sid
        self.outgoing_application_params = outgoing_application_params
        self.push_credential_sid = push_credential_sid
        self.endpoint_id = endpoint_id

    def to_payload(self) -> dict[str, Any]:
        grant: dict[str, Any] = {}
        # Only the boolean True allows incoming calls; a truthy string does not.
        if self.incoming_allow is True:
            grant["incoming"] = {"allow": True}
        if self.outgoing_application_sid:
            outgoing: dict[str, Any] = {"application_sid": self.outgoing_application_sid}
            if self.outgoing_application_params:
                outgoing["params"] = self.outgoing_application_params
            grant["outgoing"] = outgoing
        grant.update(
            _truthy(push_credential_sid=self.push_credential_sid, endpoint_id=self.endpoint_id)
        )
        return grant


class VideoGrant(AccessTokenGrant):
    """Access to Programmable Video, optionally limited to one room."""

    key = "video"

    def __init__(self, room: str | None = None) -> None:
        self.room = room

    def to_payload(self) -> dict[str, Any]:
        return _truthy(room=self.room)


class TaskRouterGrant(AccessTokenGrant):
    """Access to a TaskRouter workspace."""

    key = "task_router"

    def __init__(
        self,
        workspace_sid: str | None = None,
        worker_sid: str | None = None,
        role: str | None = None,
    ) -> None:
        self.workspace_sid = workspace_sid
        self.worker_sid = worker_sid
        self.role = role

    def to_payload(self) -> dict[str, Any]:
        return _truthy(workspace_sid=self.workspace_sid, worker_sid=self.worker_sid, role=self.role)


class PlaybackGrant(AccessTokenGrant):
    """Access to a Twilio Live stream: the grant object the Live API returned, as is."""

    key = "player"

    def __init__(self, grant: dict[str, Any] | None = None) -> None:
        self.grant = grant

    def to_payload(self) -> dict[str, Any] | None:
        return self.grant
