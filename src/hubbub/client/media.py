"""Files in messages: the media service over HTTP, reached as Twilio's SDKs reach theirs.

An upload is ``POST {media}?Category=media&Filename=NAME`` with the bytes as the body and the
client's Access Token in ``X-Twilio-Token``; the answer's ``sid`` (``ME…``) is what
``send_message`` names. A media record (``GET {media}/{sid}``, the token again) links to its
bytes at a short-lived URL that needs no header (``links.content_direct_temporary``). The media
service lives beside ``/v1/ws`` on the same server: ``/v1/Services/{IS}/Media``.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from hubbub.client.errors import ChatError

#: What ``send_message(media=...)`` takes: the bytes, a file's path, or a file open for reading.
MediaSource = bytes | bytearray | str | os.PathLike[str] | IO[bytes]


def media_url(ws_url: str, service_sid: str) -> str:
    """The media service of the server behind ``ws_url`` (``ws://host/v1/ws``)."""
    parts = urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    prefix = parts.path.removesuffix("/v1/ws").rstrip("/")
    return urlunsplit((scheme, parts.netloc, f"{prefix}/v1/Services/{service_sid}/Media", "", ""))


def read_source(
    source: MediaSource, filename: str | None, content_type: str | None
) -> tuple[bytes, str | None, str]:
    """The bytes, file name and content type of an upload: a path names the file, and the
    type is guessed from the name when not given (``application/octet-stream`` failing that)."""
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        data = path.read_bytes()
        filename = filename or path.name
    else:
        data = source.read()
        name = getattr(source, "name", None)
        if filename is None and isinstance(name, str):
            filename = Path(name).name
    if content_type is None:
        guessed = mimetypes.guess_type(filename or "")[0]
        content_type = guessed or "application/octet-stream"
    return data, filename, content_type


class MediaService:
    """The media service of one client: its URL and token come from the client as they are
    now (the token is renewed, the URL known once authenticated)."""

    def __init__(
        self, url: Callable[[], str], token: Callable[[], str | None], timeout: float
    ) -> None:
        self._url = url
        self._token = token
        self._timeout = timeout

    async def upload(self, data: bytes, filename: str | None, content_type: str) -> Media:
        params = {"Category": "media"}
        if filename:
            params["Filename"] = filename
        record = await self._request(
            "POST", self._url(), params=params, content=data, content_type=content_type
        )
        return Media.from_json(record, self)

    async def fetch(self, sid: str) -> dict[str, Any]:
        """The media record, with a fresh ``links.content_direct_temporary``."""
        return await self._request("GET", f"{self._url()}/{sid}")

    async def content_url(self, sid: str) -> str:
        links = (await self.fetch(sid)).get("links") or {}
        url = links.get("content_direct_temporary")
        if not isinstance(url, str) or not url:
            raise ChatError(0, f"the media service gave no content URL for {sid}")
        return urljoin(self._url(), url)

    async def download(self, sid: str) -> bytes:
        url = await self.content_url(sid)
        async with httpx.AsyncClient(timeout=self._timeout) as http:
            response = await http.get(url)
        if response.status_code != 200:
            raise _error(response)
        return response.content

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        token = self._token()
        if token is None:
            raise ChatError(0, "no Access Token to reach the media service with")
        headers = {"X-Twilio-Token": token}
        if content_type is not None:
            headers["Content-Type"] = content_type
        async with httpx.AsyncClient(timeout=self._timeout) as http:
            response = await http.request(
                method, url, params=params, content=content, headers=headers
            )
        if not 200 <= response.status_code < 300:
            raise _error(response)
        record = response.json()
        if not isinstance(record, dict):
            raise ChatError(0, "the media service answered with something other than a record")
        return record


def _error(response: httpx.Response) -> ChatError:
    """The media service's refusal (Twilio's shape), or its status if it said nothing."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "code" in body:
        return ChatError.from_json(body)
    return ChatError(0, f"the media service answered {response.status_code}", response.status_code)


@dataclass(frozen=True, slots=True)
class Media:
    """The file a message carries, as Twilio's SDKs describe it; its bytes are fetched on
    demand (``get_content_temporary_url``, ``get_content``)."""

    sid: str
    filename: str | None
    content_type: str
    size: int
    _service: MediaService | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], service: MediaService | None = None) -> Media:
        """From a message's ``media`` or a media record (the same names)."""
        size = data.get("size")
        return cls(
            sid=str(data.get("sid", "")),
            filename=data.get("filename"),
            content_type=str(data.get("content_type") or "application/octet-stream"),
            size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
            _service=service,
        )

    async def get_content_temporary_url(self) -> str:
        """A URL of the bytes that needs no token, valid a few minutes (a new one each call)."""
        return await self._reach().content_url(self.sid)

    async def get_content(self) -> bytes:
        """The bytes themselves."""
        return await self._reach().download(self.sid)

    def _reach(self) -> MediaService:
        if self._service is None:
            raise ChatError(0, "this media did not come through a client, which fetches it")
        return self._service
