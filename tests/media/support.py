"""A real ``hubbub serve`` with its media service, and a client for it."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from hubbub.auth.cookies import derive_key
from hubbub.crypto import load_master_key
from hubbub.media.signing import PURPOSE, Signer
from tests.twilio_sdk.nodes import Node, Tokens


class Media:
    """The media service of one node, as users (Access Tokens) and the application's server
    (HTTP Basic) call it."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.creds = node.creds
        self.service_sid = self.creds["chat_service_sid"]
        self.tokens = Tokens(self.creds)
        self.http = httpx.Client(timeout=30)

    def url(self, service_sid: str | None = None) -> str:
        return f"{self.node.base_url}/v1/Services/{service_sid or self.service_sid}/Media"

    @property
    def basic(self) -> tuple[str, str]:
        return (self.creds["account_sid"], self.creds["auth_token"])

    def headers(self, identity: str | None, **more: str) -> dict[str, str]:
        headers = dict(more)
        if identity is not None:
            headers["X-Twilio-Token"] = self.tokens.token(identity)
        return headers

    def upload(
        self,
        identity: str | None,
        data: Any,
        content_type: str = "image/png",
        *,
        filename: str | None = "cat.png",
        expect: int = 201,
        **params: str,
    ) -> Any:
        query = {"Category": "media", **params}
        if filename is not None:
            query["Filename"] = filename
        response = self.http.post(
            self.url(),
            params=query,
            content=data,
            headers=self.headers(identity, **{"Content-Type": content_type}),
            auth=self.basic if identity is None else None,  # type: ignore[arg-type]
        )
        assert response.status_code == expect, response.text
        return response.json()

    def get(self, identity: str | None, path: str, **headers: str) -> httpx.Response:
        """``path`` under ``…/Media`` (``/ME…``, ``/ME…/Content``), or an absolute URL."""
        url = path if path.startswith("http") else self.url() + path
        return self.http.get(
            url,
            headers=self.headers(identity, **headers),
            auth=self.basic if identity is None else None,  # type: ignore[arg-type]
        )

    def signer(self) -> Signer:
        """The server's signer of temporary links, from its master key file."""
        key = load_master_key(self.node.workdir / "hubbub-master.key", env=None)
        return Signer(derive_key(key, PURPOSE))

    def close(self) -> None:
        self.http.close()


def media_files(root: Path) -> list[Path]:
    """Every file under the disk store's directory, temporary ones too."""
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@contextlib.contextmanager
def half_upload(
    port: int, path: str, token: str, declared: int, sent: int, *, form: bool = False
) -> Iterator[None]:
    """Start an upload declaring ``declared`` bytes, send ``sent`` of them, and hang up when
    the block ends; raw, or (``form``) as a browser's FormData cut in its file part."""
    content_type, opening = "application/octet-stream", b""
    if form:
        content_type = "multipart/form-data; boundary=cut"
        opening = (
            b'--cut\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        head = (
            f"POST {path}?Filename=cut.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-Twilio-Token: {token}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        )
        sock.sendall(head.encode() + opening)
        piece = b"x" * 65536
        for _ in range(sent // len(piece)):
            sock.sendall(piece)
        yield


def load(response: httpx.Response) -> Any:
    return json.loads(response.content)
