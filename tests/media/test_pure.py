"""The pure parts of media: content types, temporary links, the multipart parser."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_only_the_checked_type_and_its_charset_are_kept() -> None:
    # A browser takes the last type of a list: this would be served, and sniffed, as HTML.
    assert types.content_type("image/png;a=,text/html") is None
    assert types.content_type('image/png; a="x"') is None
    assert types.content_type("image/png; name=cat") == "image/png"
    assert types.content_type("Text/Plain; Charset=UTF-8; x=y") == "text/plain; charset=utf-8"
    assert types.content_type("text/plain; charset=") is None
    assert types.content_type("image/png; =x") is None
    assert types.content_type("image/png;") == "image/png"
    assert types.served("image/png;a=,text/html") == types.DEFAULT_TYPE
    assert types.served("image/png") == "image/png"


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
    for odd in ("²", "1²", "١٢٣", "", "1" * 13, " 1300"):  # not ASCII digits, or too many
        assert not signer.check("IS1", "ME1", odd, signature, 1000)
    assert not Signer(b"x" * 32).check("IS1", "ME1", str(expires), signature, 1000)
    # A link made to last far longer than links do is refused, even correctly signed.
    far = 1000 + 86_400
    forged = b64url_encode(hmac.digest(key, f"IS1/ME1/{far}".encode(), hashlib.sha256)).decode()
    assert not signer.check("IS1", "ME1", str(far), forged, 1000)


BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"


def _form(file: bytes, *, name: str = 'filename="cat.png"', boundary: str = BOUNDARY) -> bytes:
    """A body as a browser's FormData sends it: a text field, then the file."""
    return (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="note"\r\n\r\n'
            "hello\r\n"
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="media"; {name}\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + file
        + f"\r\n--{boundary}--\r\nepilogue".encode()
    )


def _parse(
    body: bytes, pieces: Iterable[int], boundary: str = BOUNDARY
) -> list[tuple[multipart.Part, bytes]]:
    """The parts of ``body`` fed in pieces of the given sizes (the rest in one)."""
    parser = multipart.Parser(boundary)
    parts: list[tuple[multipart.Part, bytes]] = []
    ended = 0
    at = 0
    for size in [*pieces, len(body)]:
        for event in parser.feed(body[at : at + size]):
            if isinstance(event, multipart.Part):
                assert ended == len(parts)  # each part ends before the next begins
                parts.append((event, b""))
            elif isinstance(event, multipart.Data):
                assert isinstance(event.data, bytes)
                parts[-1] = (parts[-1][0], parts[-1][1] + event.data)
            else:
                ended += 1
        at += size
    assert parser.done
    parser.close()
    assert ended == len(parts)
    return parts


# A file holding what looks like boundaries, CRLFs and dashes.
TRICKY = (b"\r\n--" + BOUNDARY.encode()[:-1] + b"x\r\n-\r\n--\r" + bytes(range(256))) * 50


@pytest.mark.parametrize("step", [1, 2, 3, 37, 4096, 10**9])
def test_multipart_parts_whatever_the_pieces(step: int) -> None:
    body = _form(TRICKY)
    parts = _parse(body, [step] * (len(body) // step))

    assert [(p.name, p.filename, p.content_type) for p, _ in parts] == [
        ("note", None, None),
        ("media", "cat.png", "image/png"),
    ]
    assert parts[0][1] == b"hello"
    assert parts[1][1] == TRICKY


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300), max_size=60))
def test_multipart_any_split_of_the_body(pieces: list[int]) -> None:
    # Any cut, the empty piece included; a cut inside a delimiter above all.
    parts = _parse(_form(TRICKY[:1000]), pieces)
    assert [(p.name, data) for p, data in parts] == [("note", b"hello"), ("media", TRICKY[:1000])]


def test_multipart_file_names_and_empty_files() -> None:
    parts = _parse(_form(b"", name='filename="a \\"q\\"; b.png"'), [5] * 60)
    assert parts[1][0].filename == 'a "q"; b.png'
    assert parts[1][1] == b""
    # Browsers send names in UTF-8, unescaped.
    utf8 = _parse(_form(b"x", name='filename="猫 ü.png"'), [7] * 40)
    assert utf8[1][0].filename == "猫 ü.png"
    assert utf8[1][0].headers["content-type"] == "image/png"


def test_multipart_boundaries() -> None:
    assert multipart.boundary("image/png") is None
    assert multipart.boundary("application/x-www-form-urlencoded") is None
    assert multipart.boundary(f'multipart/form-data; boundary="{BOUNDARY}"') == BOUNDARY
    assert multipart.boundary(f"Multipart/Form-Data;Boundary={BOUNDARY}") == BOUNDARY
    spaced = "a b'()+_,./:=?-" + "z" * 55  # every character RFC 2046 allows, 70 of them
    assert multipart.boundary(f'multipart/form-data; boundary="{spaced}"') == spaced
    assert _parse(_form(b"file", boundary=spaced), [3] * 100, spaced)[1][1] == b"file"
    for bad in ["", "; boundary=", "; boundary=" + "x" * 71, '; boundary="ends in space "']:
        with pytest.raises(multipart.MultipartError, match="boundary"):
            multipart.boundary("multipart/form-data" + bad)


def test_multipart_errors() -> None:
    cut = multipart.Parser(BOUNDARY)
    cut.feed(_form(b"12345")[:-30])
    assert not cut.done
    with pytest.raises(multipart.MultipartError, match="ends before"):
        cut.close()
    # Headers are held until they end, so they are capped, counted over all of a part's lines.
    endless = multipart.Parser(BOUNDARY)
    with pytest.raises(multipart.MultipartError, match="headers"):
        endless.feed(f"--{BOUNDARY}\r\n".encode() + b"X-A: b\r\n" * 3000)
    # One long line, in pieces: it fits up to the cap, and not a piece beyond.
    long_line = multipart.Parser(BOUNDARY)
    assert long_line.feed(f"--{BOUNDARY}\r\nX-A: ".encode()) == []
    for _ in range(16):
        assert long_line.feed(b"b" * 1000) == []
    with pytest.raises(multipart.MultipartError, match="header"):
        long_line.feed(b"b" * 1000)
    headless = multipart.Parser(BOUNDARY)
    with pytest.raises(multipart.MultipartError, match="form-data"):
        headless.feed(f"--{BOUNDARY}\r\nContent-Type: a/b\r\n\r\nx".encode())
    # Another boundary than the declared one, or anything before the first delimiter.
    for body in [_form(b"x", boundary="other"), b"preamble\r\n" + _form(b"x")]:
        with pytest.raises(multipart.MultipartError, match="not well-formed"):
            multipart.Parser(BOUNDARY).feed(body)
    colonless = multipart.Parser(BOUNDARY)
    with pytest.raises(multipart.MultipartError, match="not well-formed"):
        colonless.feed(f"--{BOUNDARY}\r\nno colon here\r\n\r\n".encode())
