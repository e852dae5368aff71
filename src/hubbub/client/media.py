"""Files in messages: the media service over HTTP, reached as Twilio's SDKs reach theirs.

An upload is ``POST {media}?Category=media&Filename=NAME`` with the bytes as the body and the
client's Access Token in ``X-Twilio-Token``; the answer's ``sid`` (``ME…``) is what
``send_message`` names. A media record (``GET {media}/{sid}``, the token again) links to its
bytes at a short-lived URL that needs no header (``links.content_direct_temporary``). The media
service lives beside ``/v1/ws`` on the same server: ``/v1/Services/{IS}/Media``. Files are
streamed both ways, never read whole into memory (but by ``Media.get_content``).
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from hubbub.client.errors import ChatError

#: What ``send_message(media=...)`` takes: the bytes, a file's path, or a file open for reading.
MediaSource = bytes | bytearray | str | os.PathLike[str] | IO[bytes]
#: An upload's body once its source is known: the bytes, a file's path, or an open file.
Body = bytes | Path | IO[bytes]
#: The size of the pieces a file is sent and received in.
PIECE = 1024 * 1024


def media_url(ws_url: str, service_sid: str) -> str:
    """The media service of the server behind ``ws_url`` (``ws://host/v1/ws``)."""
    parts = urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    prefix = parts.path.removesuffix("/v1/ws").rstrip("/")
    return urlunsplit((scheme, parts.netloc, f"{prefix}/v1/Services/{service_sid}/Media", "", ""))


def read_source(
    source: MediaSource, filename: str | None, content_type: str | None
) -> tuple[Body, str | None, str]:
    """What to upload, its file name and content type: a path names the file, and the type is
    guessed from the name when not given (``application/octet-stream`` failing that). Nothing
    is read here: a path or a file is read as it is sent."""
    body: Body
    if isinstance(source, bytes | bytearray):
        body = bytes(source)
    elif isinstance(source, str | os.PathLike):
        body = Path(source)
        filename = filename or body.name
    else:
        body = source
        name = getattr(source, "name", None)
        if filename is None and isinstance(name, str):
            filename = Path(name).name
    if content_type is None:
        guessed = mimetypes.guess_type(filename or "")[0]
        content_type = guessed or "application/octet-stream"
    return body, filename, content_type


def _remaining(handle: IO[bytes]) -> int | None:
    """How many bytes are left to read in ``handle``, if it can tell (a regular file)."""
    try:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return max(0, os.fstat(handle.fileno()).st_size - handle.tell())
    except (OSError, AttributeError, ValueError):
        return None


async def _pieces(handle: IO[bytes]) -> AsyncIterator[bytes]:
    """``handle``'s bytes, a piece at a time, read off the event loop."""
    while data := await asyncio.to_thread(handle.read, PIECE):
        yield data


class MediaService:
    """The media service of one client: its URL and token come from the client as they are
    now (the token is renewed, the URL known once authenticated)."""

    def __init__(
        self, url: Callable[[], str], token: Callable[[], str | None], timeout: float
    ) -> None:
        self._url = url
        self._token = token
        self._timeout = timeout

    async def upload(self, body: Body, filename: str | None, content_type: str) -> Media:
        """Upload ``body`` (bytes, a file's path, or a binary file open for reading, read from
        where it is): a file is streamed, never held whole in memory."""
        params = {"Category": "media"}
        if filename:
            params["Filename"] = filename
        if isinstance(body, bytes):
            record = await self._request(
                "POST", self._url(), params=params, content=body, content_type=content_type
            )
            return Media.from_json(record, self)
        handle = await asyncio.to_thread(body.open, "rb") if isinstance(body, Path) else body
        try:
            # With its length declared, a file over the service's limit is refused at once.
            size = await asyncio.to_thread(_remaining, handle)
            record = await self._request(
                "POST",
                self._url(),
                params=params,
                content=_pieces(handle),
                content_type=content_type,
                length=size,
            )
        finally:
            if handle is not body:  # the caller's own file stays open
                await asyncio.to_thread(handle.close)
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
        return b"".join([piece async for piece in self.stream(sid)])

    async def stream(self, sid: str) -> AsyncIterator[bytes]:
        """The bytes of ``sid``, as they arrive."""
        url = await self.content_url(sid)
        async with (
            httpx.AsyncClient(timeout=self._timeout) as http,
            http.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                await response.aread()
                raise _error(response)
            async for piece in response.aiter_bytes(PIECE):
                yield piece

    async def save(self, sid: str, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Write the bytes of ``sid`` to ``target`` (a path, or a binary file open for
        writing) as they arrive; how many."""
        handle = (
            await asyncio.to_thread(Path(target).open, "wb")
            if isinstance(target, str | os.PathLike)
            else target
        )
        written = 0
        try:
            async for piece in self.stream(sid):
                await asyncio.to_thread(handle.write, piece)
                written += len(piece)
        finally:
            if handle is not target:
                await asyncio.to_thread(handle.close)
        return written

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        content: bytes | AsyncIterator[bytes] | None = None,
        content_type: str | None = None,
        length: int | None = None,
    ) -> dict[str, Any]:
        token = self._token()
        if token is None:
            raise ChatError(0, "no Access Token to reach the media service with")
        headers = {"X-Twilio-Token": token}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if length is not None:
            headers["Content-Length"] = str(length)
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
        """The bytes themselves (all in memory: ``save_content`` or ``stream_content`` for
        large files)."""
        return await self._reach().download(self.sid)

    def stream_content(self) -> AsyncIterator[bytes]:
        """The bytes, as they arrive."""
        return self._reach().stream(self.sid)

    async def save_content(self, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Write the bytes to ``target`` (a path, or a binary file open for writing) as they
        arrive, never all in memory; how many."""
        return await self._reach().save(self.sid, target)

    def _reach(self) -> MediaService:
        if self._service is None:
            raise ChatError(0, "this media did not come through a client, which fetches it")
        return self._service
