"""What the SDK's tests against the real server share: waiting, recording events, connecting,
and the REST API of the same server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from hubbub.client import Backoff, ChatClient
from tests.realtime.conftest import RealtimeServer


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(scenario)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for ``condition``, however long the machine takes, up to ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def record(client: ChatClient, *events: str) -> list[Any]:
    """What the client reports: the arguments of one event, or (event, argument) of several."""
    seen: list[Any] = []
    for event in events:
        if len(events) == 1:
            client.on(event, seen.append)
        else:
            client.on(event, lambda value, event=event: seen.append((event, value)))
    return seen


async def connect(
    server: RealtimeServer, identity: str, url: str | None = None, **options: Any
) -> ChatClient:
    options.setdefault("backoff", Backoff(initial=0.05, cap=0.2))
    return await ChatClient.create(server.mint(identity), url=url or server.url, **options)


def rest(server: RealtimeServer) -> httpx.AsyncClient:
    """The REST API of ``server``, as the account, rooted at its Chat Service."""
    creds = server.creds
    return httpx.AsyncClient(
        base_url=f"{server.base_url}/v2/Services/{creds.chat_service_sid}",
        auth=(creds.account_sid, creds.auth_token),
    )


async def call(api: httpx.AsyncClient, method: str, path: str, **form: Any) -> dict[str, Any]:
    """A REST call that must succeed; its JSON (empty for a 204). ``path`` is under the Chat
    Service ("" for the service itself), or a whole URL."""
    # Joined by hand: httpx would add a slash to the base URL, and "" is the service itself.
    url = path if "://" in path else str(api.base_url).rstrip("/") + path
    response = await api.request(method, url, data=form or None)
    assert response.is_success, response.text
    return {} if response.status_code == 204 else dict(response.json())
