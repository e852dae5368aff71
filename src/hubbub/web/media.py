"""The media service (Twilio's "MCS") over HTTP: uploads, their records, their bytes.

``/v1/Services/{IS}/Media`` takes an upload, raw (the body is the file, its Content-Type the
file's) or as a browser's ``multipart/form-data``; ``…/Media/{ME}`` is its record (the SDKs'
``MediaResponse``), ``…/Media/{ME}/Content`` its bytes, ``…/MediaSet`` many records at once.
Callers are users with an Access Token in ``X-Twilio-Token`` (verified as the real-time
sessions verify theirs) or the application's server with HTTP Basic, as on the REST API.

Bodies stream both ways: an upload is written as it arrives, in pieces of at most ``FLUSH``
bytes, on this door's own threads (``Blobs`` block), and a download is read chunk by chunk;
neither holds a whole file in memory. Every answer carries CORS headers: Twilio's browser SDKs
upload from the app's own origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from hubbub import sids
from hubbub.chat.errors import (
    INVALID_PARAMETER,
    NOT_FOUND,
    REQUEST_TOO_LARGE,
    SERVICE_UNAVAILABLE,
    ApiError,
    from_store,
    invalid,
)
from hubbub.chat.render import date
from hubbub.media import multipart, types
from hubbub.media.blobs import Blobs, Draft, Upload, UploadExpired
from hubbub.media.signing import Signer
from hubbub.realtime.node import Node
from hubbub.store.errors import NotFound, StoreError
from hubbub.store.records import MEDIA, Media, MediaCategory
from hubbub.tokens import TokenError
from hubbub.web.context import Context
from hubbub.web.endpoint import JSON, error_response, read_body

T = TypeVar("T")

#: Bytes of an upload gathered before they are handed to the blob store in one call.
FLUSH = 1024 * 1024
#: What a multipart body may hold beyond its file: the other fields, headers and boundaries.
MULTIPART_SLACK = 64 * 1024
#: The most media one MediaSet request may ask for.
MAX_SET = 1000
MAX_FILENAME = 1024
FORBIDDEN = 20403
UNSUPPORTED_TYPE = 20415
RANGE_NOT_SATISFIABLE = 20416
UPLOAD_TIMEOUT = 20408
_CATEGORIES: dict[str, MediaCategory] = {"media": "media", "body": "body", "history": "history"}
# ASCII digits, and few enough for int(): a longer number is no range (the whole is sent).
_RANGE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Content-Disposition",
}
_PREFLIGHT = {
    **_CORS,
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Twilio-Token, Content-Type, Authorization, Range",
    "Access-Control-Max-Age": "600",
}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: a user of the service (``identity``), or its application's server (``None``)."""

    account_sid: str
    service_sid: str
    identity: str | None


def forbidden(message: str) -> ApiError:
    return ApiError(403, FORBIDDEN, message)


class MediaService:
    """The media routes of one process, over its store, blob store and link signer."""

    def __init__(
        self,
        ctx: Context,
        node: Node,
        blobs: Blobs,
        signer: Signer,
        *,
        threads: int = 16,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ctx = ctx
        self.node = node
        self.blobs = blobs
        self.signer = signer
        self.clock = clock
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="hubbub-media")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.blobs.close()

    def routes(self) -> list[Route]:
        base = "/v1/Services/{ServiceSid}"
        one = f"{base}/Media/{{MediaSid}}"
        pairs: list[tuple[str, str, Callable[[Request], Awaitable[Response]]]] = [
            (f"{base}/Media", "POST", self.upload),
            (one, "GET", self.fetch),
            (one, "DELETE", self.delete),
            (f"{one}/Content", "GET", self.content),
            (f"{base}/MediaSet", "POST", self.media_set),
        ]
        routes = [
            Route(path, _answered(handler), methods=[method]) for path, method, handler in pairs
        ]
        for path in sorted({path for path, _, _ in pairs}):
            routes.append(Route(path, _preflight, methods=["OPTIONS"]))
        return routes

    # -- off the event loop ------------------------------------------------------------------
    async def _io(self, function: Callable[..., T], *args: Any) -> T:
        """Blob work, on this door's threads."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def _db(self, function: Callable[..., T], *args: Any) -> T:
        """Store work, where REST runs it (on the loop for SQLite, else in the thread pool)."""
        return await self.ctx.executor.run(function, *args)

    # -- who asks ----------------------------------------------------------------------------
    def _base(self, request: Request) -> str:
        public = self.ctx.public_urls
        return public.base if public is not None else str(request.base_url).rstrip("/")

    def _caller(self, request: Request, service_sid: str) -> Caller:
        token = request.headers.get("x-twilio-token")
        if token is not None:
            commands = self.node.commands_for(self._base(request))
            try:
                who = commands.authenticate(token, now=int(self.clock()))
            except TokenError as exc:
                raise ApiError(exc.status, exc.code, exc.message) from None
            if who.service_sid != service_sid:
                raise forbidden("the token is for another Chat Service")
            return Caller(who.account_sid, who.service_sid, who.identity)
        principal = self.ctx.auth.authenticate(request.headers.get("authorization"))
        path = request.url.path
        if not self.ctx.owns(principal.account_sid, service_sid):
            self.ctx.service(principal.account_sid, service_sid, path)
        return Caller(principal.account_sid, service_sid, None)

    def _visible(self, caller: Caller, media: Media) -> bool:
        """An upload is its uploader's until a message carries it, then its channel's members';
        the application's server sees all of its services' media."""
        if caller.identity is None:
            return True
        if media.message_sid is None or media.channel_sid is None:
            return media.author == caller.identity
        try:
            self.ctx.store.get_member(media.service_sid, media.channel_sid, caller.identity)
        except NotFound:
            return False
        return True

    def _readable(self, request: Request, service_sid: str, sid: str) -> tuple[Caller, Media]:
        caller = self._caller(request, service_sid)
        media = self._media(service_sid, sid, request.url.path)
        if not self._visible(caller, media):
            raise forbidden(f"{caller.identity} may not see media {sid}")
        return caller, media

    def _media(self, service_sid: str, sid: str, path: str) -> Media:
        if not sids.is_sid(sid, MEDIA):
            raise ApiError(404, NOT_FOUND, f"The requested resource {path} was not found")
        # ``live``: a deleted message's media are gone at once, not at the next sweep.
        return self.ctx.store.get_media(service_sid, sid, live=True)

    # -- the record --------------------------------------------------------------------------
    def record(self, media: Media, base: str) -> dict[str, Any]:
        """The media as Twilio's media service answers (the SDKs' ``MediaResponse``), with a
        fresh temporary link to its bytes."""
        url = f"{base}/v1/Services/{media.service_sid}/Media/{media.sid}"
        expires, signature = self.signer.sign(media.service_sid, media.sid, self.clock())
        return {
            "sid": media.sid,
            "account_sid": media.account_sid,
            "service_sid": media.service_sid,
            "channel_sid": media.channel_sid,
            "message_sid": media.message_sid,
            "date_created": date(media.date_created),
            "date_upload_updated": date(media.date_updated),
            "date_updated": date(media.date_updated),
            "size": media.size,
            "content_type": media.content_type,
            "filename": media.filename,
            "category": media.category,
            "author": media.author,
            "is_multipart_upstream": False,
            "url": url,
            "links": {
                "content": f"{url}/Content",
                "content_direct_temporary": (
                    f"{url}/Content?Expires={expires}&Signature={signature}"
                ),
            },
        }

    # -- handlers ----------------------------------------------------------------------------
    async def fetch(self, request: Request) -> Response:
        service_sid, sid = _path(request, "ServiceSid"), _path(request, "MediaSid")
        _, media = await self._db(self._readable, request, service_sid, sid)
        return _json(200, self.record(media, self._base(request)))

    async def media_set(self, request: Request) -> Response:
        service_sid = _path(request, "ServiceSid")
        body = await read_body(request)
        wanted = _set_command(body)
        caller = await self._db(self._caller, request, service_sid)

        def answer() -> list[dict[str, Any]]:
            found = {
                m.sid: m for m in self.ctx.store.get_media_many(service_sid, wanted, live=True)
            }
            base = self._base(request)
            items: list[dict[str, Any]] = []
            for sid in wanted:
                media = found.get(sid)
                if media is None:
                    items.append({"code": 404, "media_record": {"sid": sid}})
                elif not self._visible(caller, media):
                    items.append({"code": 403, "media_record": {"sid": sid}})
                else:
                    items.append({"code": 200, "media_record": self.record(media, base)})
            return items

        return _json(200, await self._db(answer))

    async def delete(self, request: Request) -> Response:
        service_sid, sid = _path(request, "ServiceSid"), _path(request, "MediaSid")

        def remove() -> None:
            caller = self._caller(request, service_sid)
            media = self._media(service_sid, sid, request.url.path)
            if caller.identity is not None and media.author != caller.identity:
                raise forbidden(f"only its uploader may delete media {sid}")
            self.ctx.store.delete_media(service_sid, sid, unattached=True)

        await self._db(remove)
        await self._io(self.blobs.delete, sid)
        return Response(status_code=204, headers=_CORS)

    async def content(self, request: Request) -> Response:
        service_sid, sid = _path(request, "ServiceSid"), _path(request, "MediaSid")
        query = request.query_params
        path = request.url.path
        if "Signature" in query or "Expires" in query:
            # The link is the credential: nothing else is asked, so an <img src> works.
            valid = self.signer.check(
                service_sid,
                sid,
                query.get("Expires", ""),
                query.get("Signature", ""),
                self.clock(),
            )
            if not valid:
                raise forbidden("this temporary link is not valid, or has expired")
            media = await self._db(self._media, service_sid, sid, path)
        else:
            _, media = await self._db(self._readable, request, service_sid, sid)
        start, end, status = _range(request.headers.get("range"), media.size)
        content_type = types.served(media.content_type)
        headers = {
            **_CORS,
            "Content-Type": content_type,
            "Content-Length": str(end - start),
            "Content-Disposition": types.disposition(content_type, media.filename),
            "X-Content-Type-Options": "nosniff",
            # Even if a browser were to render it, nothing in it may run or load anything.
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, max-age=300",
        }
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{media.size}"
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers)
        try:
            chunks = await self._io(self.blobs.read, sid, start, end)
        except FileNotFoundError:
            raise ApiError(404, NOT_FOUND, f"The requested resource {path} was not found") from None
        return StreamingResponse(self._stream(chunks), status_code=status, headers=headers)

    async def _stream(self, chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await loop.run_in_executor(self._pool, next, chunks, None)
                if data is None:
                    return
                yield data
        finally:
            self._pool.submit(_close, chunks)

    async def upload(self, request: Request) -> Response:
        service_sid = _path(request, "ServiceSid")

        def admit() -> tuple[Caller, int, tuple[str, ...]]:
            caller = self._caller(request, service_sid)
            if caller.identity is None and "origin" in request.headers:
                # A browser page never has the application's secrets: HTTP Basic from one is
                # credentials it remembered, sent along by a form of any other site.
                raise forbidden("HTTP Basic is for the application's server; pages use a token")
            config = self.ctx.store.get_service(caller.account_sid, service_sid).config.media
            return caller, config.size_limit_mb * 1024 * 1024, config.allowed_types

        caller, limit, allowed_types = await self._db(admit)
        query = request.query_params
        category = _CATEGORIES.get(query.get("Category") or "media")
        if category is None:
            raise invalid("Category must be media, body or history")
        filename = query.get("Filename") or None
        if filename is not None:
            _check_filename(filename)
        declared = request.headers.get("content-length", "")
        header = request.headers.get("content-type")
        try:
            boundary = multipart.boundary(header or "")
        except multipart.MultipartError as exc:
            raise invalid(str(exc)) from None
        body_limit = limit + (MULTIPART_SLACK if boundary else 0)
        if declared.isdigit() and int(declared) > body_limit:
            raise _too_large(limit)

        def draft(content_type: str | None, name: str | None) -> Draft:
            if content_type is None:
                raise invalid("Content-Type is not a content type like image/png")
            if not types.allowed(content_type, allowed_types):
                raise ApiError(
                    415,
                    UNSUPPORTED_TYPE,
                    f"this Chat Service does not take {types.base_type(content_type)} media "
                    f"(it takes {', '.join(allowed_types)})",
                )
            return Draft(
                sids.new_sid(MEDIA),
                caller.account_sid,
                service_sid,
                caller.identity,
                category,
                filename or name,
                content_type,
            )

        writer = _Writer(self, limit)
        try:
            if boundary is None:
                await writer.begin(draft(types.content_type(header), None))
                async for chunk in request.stream():
                    await writer.write(chunk)
            else:
                await self._form(request, boundary, body_limit, writer, draft)
            media = await writer.commit()
        except BaseException:
            writer.abort()
            raise
        return _json(201, self.record(media, self._base(request)))

    async def _form(
        self,
        request: Request,
        boundary: str,
        body_limit: int,
        writer: _Writer,
        draft: Callable[[str | None, str | None], Draft],
    ) -> None:
        """Store the first file part of a multipart body; the other parts are read past."""
        parser = multipart.Parser(boundary)
        received = 0
        state = "before"  # the file part: before it, in it, after it
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > body_limit:
                    raise _too_large(writer.limit)
                for event in parser.feed(chunk):
                    if isinstance(event, multipart.Part):
                        if state == "before" and event.filename is not None:
                            # Checked as the query's is, before anything is stored.
                            _check_filename(event.filename)
                            kind = types.content_type(event.content_type)
                            await writer.begin(draft(kind, event.filename or None))
                            state = "in"
                    elif isinstance(event, multipart.Data):
                        if state == "in":
                            await writer.write(event.data)
                    elif state == "in":
                        state = "after"
            parser.close()
        except multipart.MultipartError as exc:
            raise invalid(str(exc)) from None
        if state != "after":
            raise invalid("the multipart body has no file part (one with a filename)")


class _Writer:
    """One upload fed from the event loop: pieces gathered up to ``FLUSH`` bytes and written on
    the door's threads, one at a time but while the next piece arrives (so at most two pieces
    are held), the size limit checked as they come."""

    def __init__(self, door: MediaService, limit: int) -> None:
        self.door = door
        self.limit = limit
        self.size = 0
        self._pending = bytearray()
        # The upload's latest call on a thread (``begin``, then each ``write``): tracked as the
        # thread's own future, which is done only once the thread is, cancelled or not.
        self._begun: Future[Upload] | None = None
        self._last: Future[Any] | None = None

    async def begin(self, draft: Draft) -> None:
        self._begun = self.door._pool.submit(self.door.blobs.begin, draft)
        await asyncio.wrap_future(self._begun)

    @property
    def upload(self) -> Upload:
        if self._begun is None or not self._begun.done():
            raise RuntimeError("the upload has not begun")
        return self._begun.result()

    async def _settled(self) -> None:
        """Once the write under way is done (raising what it raised)."""
        if self._last is not None:
            await asyncio.wrap_future(self._last)

    async def _flush(self) -> None:
        await self._settled()
        piece, self._pending = self._pending, bytearray()
        self._last = self.door._pool.submit(self.upload.write, piece)

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise _too_large(self.limit)
        self._pending += data
        if len(self._pending) >= FLUSH:
            await self._flush()

    async def commit(self) -> Media:
        if self._pending:
            await self._flush()
        await self._settled()
        self._last = self.door._pool.submit(self.upload.commit)
        media: Media = await asyncio.wrap_future(self._last)
        return media

    def abort(self) -> None:
        """Drop the upload, once its thread is done with whatever it was doing (the request
        may have been cancelled while it was)."""
        begun, self._begun = self._begun, None
        if begun is None:
            return
        last = self._last or begun
        pool = self.door._pool

        def drop(_: object) -> None:
            # ``exception()`` of a cancelled future raises: ``begin`` never ran, nothing to drop.
            if begun.cancelled() or begun.exception() is not None:
                return
            upload = begun.result()
            try:
                # On a thread, never on the event loop (this may run there, and may do I/O).
                pool.submit(upload.abort)
            except RuntimeError:  # the pool is shut down: the process is stopping
                upload.abort()

        last.add_done_callback(drop)  # runs now if it is done, else in its thread when it is


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        # ValueError: still being read by a thread; the file then goes with the generator.
        with contextlib.suppress(ValueError):
            close()


def _path(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    if "\x00" in value:
        raise ApiError(404, NOT_FOUND, f"The requested resource {request.url.path} was not found")
    return value


def _check_filename(name: str) -> None:
    if len(name) > MAX_FILENAME or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise invalid(f"Filename must be at most {MAX_FILENAME} characters, none of them control")


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, REQUEST_TOO_LARGE, f"the file is larger than this service's {limit // 2**20} MB limit"
    )


def _set_command(body: bytes) -> list[str]:
    """The media SIDs of a MediaSet ``get`` command."""
    try:
        command = json.loads(body)
    except (ValueError, RecursionError):
        raise invalid("the MediaSet request is not JSON") from None
    if not isinstance(command, dict) or command.get("command") != "get":
        raise invalid('the MediaSet request must be {"command": "get", "list": [...]}')
    items = command.get("list")
    if not isinstance(items, list) or len(items) > MAX_SET:
        raise invalid(f"list must be a list of at most {MAX_SET} media")
    wanted: list[str] = []
    for item in items:
        sid = item.get("media_sid") if isinstance(item, dict) else None
        if not isinstance(sid, str) or not sids.is_sid(sid, MEDIA):
            raise invalid('each item of list must be {"media_sid": "ME..."}')
        wanted.append(sid)
    return wanted


def _range(header: str | None, size: int) -> tuple[int, int, int]:
    """``(start, end, status)`` for a ``Range`` header: one range of bytes (206), else the
    whole (200); a range past the end is 416."""
    if header is None:
        return 0, size, 200
    match = _RANGE.fullmatch(header.strip())
    if match is None or not (match.group(1) or match.group(2)):
        return 0, size, 200  # several ranges, or another unit: the whole is a valid answer
    first, last = match.group(1), match.group(2)
    if not first:  # the last N bytes
        start, end = max(0, size - int(last)), size
    else:
        start = int(first)
        end = min(size, int(last) + 1) if last else size
    if start >= size or start >= end:
        raise ApiError(416, RANGE_NOT_SATISFIABLE, f"the range is outside the {size} bytes")
    return start, end, 206


def _json(status: int, payload: Any) -> Response:
    return Response(
        json.dumps(payload, separators=(",", ":")),
        status_code=status,
        media_type=JSON,
        headers=_CORS,
    )


def _answered(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Any]:
    """``handler`` with its errors answered here, in Twilio's shape and with CORS headers (a
    browser shows a cross-origin page no answer without them)."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            error = exc
        except StoreError as exc:
            error = from_store(exc, request.url.path)
        except ClientDisconnect:
            # Nobody to answer; what it sent was dropped.
            error = ApiError(400, INVALID_PARAMETER, "the client went away")
        except UploadExpired:
            # It stalled for over an hour, and the sweep took its file meanwhile.
            error = ApiError(408, UPLOAD_TIMEOUT, "the upload took too long; send it again")
        except PoolTimeout:
            # Every connection of the media store's pool is moving someone's file. The SDKs
            # try again on 503.
            error = ApiError(503, SERVICE_UNAVAILABLE, "too many uploads at once; try again")
        response = error_response(error)
        # No Basic challenge: a browser would ask for, then keep, credentials that a form of
        # any other site could then send along.
        if "www-authenticate" in response.headers:
            del response.headers["www-authenticate"]
        response.headers.update(_CORS)
        if error.status == 416:
            response.headers["Content-Range"] = "bytes */*"
        return response

    run.__name__ = handler.__name__
    return run


async def _preflight(request: Request) -> Response:
    return Response(status_code=204, headers=_PREFLIGHT)
