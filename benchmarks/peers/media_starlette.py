"""The peer of ``bench_media.py``: the plain way to take and serve a file with Starlette.

``POST /upload`` reads the whole body (``await request.body()``) and writes it to a file (with
an fsync, as hubbub does: both keep what they acknowledge); ``GET /file`` answers it with
Starlette's ``FileResponse``. Run under uvicorn: ``uvicorn peers.media_starlette:app``.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

FILE = Path(os.environ.get("PEER_MEDIA_DIR", ".")) / "upload.bin"


async def upload(request: Request) -> Response:
    body = await request.body()
    with FILE.open("wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    return JSONResponse({"size": len(body)}, status_code=201)


async def download(request: Request) -> Response:
    return FileResponse(FILE, media_type="application/octet-stream")


app = Starlette(
    routes=[Route("/upload", upload, methods=["POST"]), Route("/file", download, methods=["GET"])]
)
