"""The pure parts of media: content types, temporary links, the multipart parser."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from hubbub.media import multipart, types
from hubbub.media.signing import Signer
from hubbub.tokens.encoding import b64url_encode


@pytest.mark.parametrize(
    ("value", "patterns", "expected"),
    [
        ("image/png", (), True),
        ("image/png", ("image/*",), True),
        ("IMAGE/PNG; x=1", ("image/png",), True),
        ("video/mp4", ("image/*", "audio/*"), False),
        ("application/pdf", ("*/*",), True),
        ("application/pdf", ("application/zip",), False),
    ],
)
def test_allowed_types(value: str, patterns: tuple[str, ...], expected: bool) -> None:
    assert types.allowed(value, patterns) is expected


def test_patterns_and_content_types() -> None:
    assert all(map(types.is_pattern, ("image/*", "*/*", "application/vnd.ms-excel")))
    assert not any(map(types.is_pattern, ("image", "*/png", "image/ png", "a/b/c", "")))
    assert types.content_type(None) == types.DEFAULT_TYPE
    assert types.content_type("Image/PNG") == "image/png"
    assert types.content_type("text/plain; charset=utf-8") == "text/plain; charset=utf-8"
    assert types.content_type("not a type") is None
    assert types.content_type("text/plain\r\nX: y") is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("image/png", True),
        ("image/jpeg", True),
        ("video/mp4", True),
        ("audio/ogg", True),
        ("image/svg+xml", False),
        ("text/html", False),
        ("application/xhtml+xml", False),
        ("application/pdf", False),
        ("text/plain", False),
    ],
)
def test_only_safe_kinds_are_shown_inline(value: str, shown: bool) -> None:
    assert types.inline(value) is shown
    assert types.disposition(value, None) == ("inline" if shown else "attachment")


def test_disposition_names_the_file_safely() -> None:
    header = types.disposition("image/png", 'a "b";\r\nc ü.png')
    assert header == (
        "inline; filename=\"a _b____c _.png\"; filename*=UTF-8''a%20%22b%22%3B%0D%0Ac%20%C3%BC.png"
    )


def test_temporary_links() -> None:
    key = b"k" * 32
    signer = Signer(key, ttl=300)
    expires, signature = signer.sign("IS1", "ME1", 1000.5)
    assert expires == 1300
    assert signer.check("IS1", "ME1", str(expires), signature, 1000)
    assert signer.check("IS1", "ME1", str(expires), signature, 1300)
    assert not signer.check("IS1", "ME1", str(expires), signature, 1301)  # expired
    assert not signer.check("IS1", "ME2", str(expires), signature, 1000)  # another media
    assert not signer.check("IS2", "ME1", str(expires), signature, 1000)  # another service
    assert not signer.check("IS1", "ME1", str(expires + 1), signature, 1000)
    assert not signer.check("IS1", "ME1", str(expires), signature[:-1] + "A", 1000)
    assert not signer.check("IS1", "ME1", "-5", signature, 1000)
    assert not Signer(b"x" * 32).check("IS1", "ME1", str(expires), signature, 1000)
    # A link made to last far longer than links do is refused, even correctly signed.
    far = 1000 + 86_400
    forged = b64url_encode(hmac.digest(key, f"IS1/ME1/{far}".encode(), hashlib.sha256)).decode()
    assert not signer.check("IS1", "ME1", str(far), forged, 1000)


BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"


def _form(file: bytes, *, name: str = 'filename="cat.png"', extra: bytes = b"") -> bytes:
    return (
        (
            f"preamble\r\n--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="note"\r\n\r\n'
            "hello\r\n"
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="media"; {name}\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + file
        + f"\r\n--{BOUNDARY}--\r\nepilogue".encode()
        + extra
    )


def _parse(body: bytes, step: int) -> list[tuple[multipart.Part, bytes]]:
    parser = multipart.Parser(BOUNDARY)
    parts: list[tuple[multipart.Part, bytes]] = []
    ended = 0
    for at in range(0, len(body), step):
        for event in parser.feed(body[at : at + step]):
            if isinstance(event, multipart.Part):
                parts.append((event, b""))
            elif isinstance(event, multipart.Data):
                parts[-1] = (parts[-1][0], parts[-1][1] + event.data)
            else:
                ended += 1
    parser.close()
    assert ended == len(parts)
    return parts


@pytest.mark.parametrize("step", [1, 2, 3, 37, 4096, 10**9])
def test_multipart_parts_whatever_the_pieces(step: int) -> None:
    # A file holding what looks like boundaries, CRLFs and dashes.
    file = (b"\r\n--" + BOUNDARY.encode()[:-1] + b"x\r\n-\r\n--\r" + bytes(range(256))) * 50
    parts = _parse(_form(file), step)

    assert [(p.name, p.filename, p.content_type) for p, _ in parts] == [
        ("note", None, None),
        ("media", "cat.png", "image/png"),
    ]
    assert parts[0][1] == b"hello"
    assert parts[1][1] == file


def test_multipart_file_names_and_empty_files() -> None:
    parts = _parse(_form(b"", name='filename="a \\"q\\"; b.png"'), 5)
    assert parts[1][0].filename == 'a "q"; b.png'
    assert parts[1][1] == b""


def test_multipart_errors() -> None:
    assert multipart.boundary("image/png") is None
    assert multipart.boundary(f'multipart/form-data; boundary="{BOUNDARY}"') == BOUNDARY
    with pytest.raises(multipart.MultipartError):
        multipart.boundary("multipart/form-data")
    with pytest.raises(multipart.MultipartError):
        multipart.boundary("multipart/form-data; boundary=" + "x" * 71)
    cut = multipart.Parser(BOUNDARY)
    cut.feed(_form(b"12345")[:-30])
    with pytest.raises(multipart.MultipartError, match="ends before"):
        cut.close()
    endless = multipart.Parser(BOUNDARY)
    with pytest.raises(multipart.MultipartError, match="headers"):
        endless.feed(f"--{BOUNDARY}\r\n".encode() + b"X-A: b\r\n" * 3000)
    headless = multipart.Parser(BOUNDARY)
    with pytest.raises(multipart.MultipartError, match="form-data"):
        headless.feed(f"--{BOUNDARY}\r\nContent-Type: a/b\r\n\r\nx".encode())
