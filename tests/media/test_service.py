"""The media service of a real ``hubbub serve`` (SQLite, media on disk), over real sockets."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from hubbub.media.blobs import DiskBlobs
from hubbub.media.setup import recorder
from hubbub.media.sweep import sweep
from hubbub.store import Store, open_store
from hubbub.store import schema as s
from hubbub.store.db import utc_now
from hubbub.tokens.minter import Minter
from tests.media.support import Media, half_upload, media_files
from tests.support import twilio_error
from tests.twilio_sdk.nodes import Node, Tokens, poll

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    started = Node(tmp_path_factory.mktemp("media")).start()
    yield started
    started.close()


@pytest.fixture
def media(node: Node) -> Iterator[Media]:
    client = Media(node)
    yield client
    client.close()


@pytest.fixture(scope="module")
def db(node: Node) -> Iterator[Store]:
    """The server's own database, for what only the store can say (rows, attaching)."""
    store = open_store(f"sqlite:///{node.workdir / 'hubbub.db'}", run_migrations=False)
    yield store
    store.close()


def _pattern(size: int) -> bytes:
    return (bytes(range(253)) * (size // 253 + 1))[:size]


def _carry(node: Node, db: Store, media_sid: str, members: list[str]) -> str:
    """A channel with ``members`` and a message in it that carries the media."""
    rest = node.rest()
    channel = rest.call("POST", "/Channels", FriendlyName="media")["sid"]
    for identity in members:
        rest.call("POST", f"/Channels/{channel}/Members", Identity=identity)
    message = rest.call("POST", f"/Channels/{channel}/Messages", Body="a file", From=members[0])
    service_sid = node.creds["chat_service_sid"]
    db.attach_media(service_sid, media_sid, channel_sid=channel, message_sid=message["sid"])
    return f"/Channels/{channel}/Messages/{message['sid']}"


# -- uploading and reading -------------------------------------------------------------------


def test_a_raw_upload_comes_back_whole_in_ranges_and_through_its_temporary_link(
    media: Media,
) -> None:
    data = _pattern(3 * MiB + 7)
    record = media.upload("alice", data, "image/png", filename="cat ü.png")

    sid = record["sid"]
    url = f"{media.url()}/{sid}"
    assert record == {
        "sid": sid,
        "account_sid": media.creds["account_sid"],
        "service_sid": media.service_sid,
        "channel_sid": None,
        "message_sid": None,
        "date_created": record["date_created"],
        "date_upload_updated": record["date_created"],
        "date_updated": record["date_created"],
        "size": len(data),
        "content_type": "image/png",
        "filename": "cat ü.png",
        "category": "media",
        "author": "alice",
        "is_multipart_upstream": False,
        "url": url,
        "links": {
            "content": f"{url}/Content",
            "content_direct_temporary": record["links"]["content_direct_temporary"],
        },
    }
    fetched = media.get("alice", f"/{sid}")
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/json"
    assert {**fetched.json(), "links": None} == {**record, "links": None}

    content = media.get("alice", f"/{sid}/Content")
    assert content.status_code == 200
    assert content.content == data
    assert content.headers["content-type"] == "image/png"
    assert content.headers["content-length"] == str(len(data))
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["content-disposition"] == (
        "inline; filename=\"cat _.png\"; filename*=UTF-8''cat%20%C3%BC.png"
    )
    part = media.get("alice", f"/{sid}/Content", Range="bytes=1048570-1048580")
    assert part.status_code == 206
    assert part.content == data[1048570:1048581]
    assert part.headers["content-range"] == f"bytes 1048570-1048580/{len(data)}"
    head = media.http.head(f"{media.url()}/{sid}/Content", headers=media.headers("alice"))
    assert (head.status_code, head.headers["content-length"], head.content) == (
        200,
        str(len(data)),
        b"",
    )
    past = media.get("alice", f"/{sid}/Content", Range=f"bytes={len(data)}-")
    twilio_error(past.json(), 416, 20416)

    # The temporary link needs nothing else, as an <img src> sends nothing else.
    direct = httpx.get(fetched.json()["links"]["content_direct_temporary"])
    assert direct.status_code == 200
    assert direct.content == data


def test_a_browser_form_upload_takes_its_file_part(media: Media) -> None:
    data = _pattern(MiB + 3)
    response = media.http.post(
        media.url(),
        params={"Category": "media"},
        data={"note": "not the file"},
        files={"media": ("report.pdf", data, "application/pdf")},
        headers=media.headers("alice"),
    )
    assert response.status_code == 201, response.text
    record = response.json()
    assert (record["filename"], record["content_type"], record["size"]) == (
        "report.pdf",
        "application/pdf",
        len(data),
    )

    content = media.get("alice", f"/{record['sid']}/Content")
    assert content.content == data
    # Not an image, audio or video: downloaded, never shown on hubbub's origin.
    assert content.headers["content-disposition"].startswith("attachment;")


def test_a_form_upload_takes_the_first_file_and_the_query_filename(media: Media) -> None:
    first, second = _pattern(70_000), b"not this one"
    response = media.http.post(
        media.url(),
        params={"Filename": "from the query.png"},
        data={"before": "x" * 5000},
        files=[("a", ("a.png", first, "image/png")), ("b", ("b.png", second, "image/png"))],
        headers=media.headers("alice"),
    )
    assert response.status_code == 201, response.text
    record = response.json()
    assert (record["filename"], record["size"]) == ("from the query.png", len(first))
    assert media.get("alice", f"/{record['sid']}/Content").content == first
    # Without a Content-Type of its own, the file part is application/octet-stream.
    bare = media.http.post(
        media.url(),
        content=b'--b\r\nContent-Disposition: form-data; name="f"; filename="n"\r\n\r\nxy\r\n--b--',
        headers=media.headers("alice", **{"Content-Type": "multipart/form-data; boundary=b"}),
    )
    assert bare.status_code == 201, bare.text
    assert (bare.json()["content_type"], bare.json()["size"]) == ("application/octet-stream", 2)


def test_malformed_form_bodies_are_refused_and_leave_nothing(
    node: Node, media: Media, db: Store
) -> None:
    root = node.workdir / "media"
    before = set(media_files(root))
    rows_before = len(db.unattached_media(utc_now() + timedelta(days=1)))
    part = b'Content-Disposition: form-data; name="f"; filename="a.png"\r\n\r\n' + b"d" * MiB
    bodies = {
        "no boundary": ("multipart/form-data", b"--b\r\n" + part + b"\r\n--b--"),
        "a boundary too long": (
            "multipart/form-data; boundary=" + "b" * 71,
            b"--b\r\n" + part + b"\r\n--b--",
        ),
        "another boundary": ("multipart/form-data; boundary=b", b"--c\r\n" + part + b"\r\n--c--"),
        # The file is whole, but the body ends in the next part.
        "no closing boundary": (
            "multipart/form-data; boundary=b",
            b"--b\r\n" + part + b'\r\n--b\r\nContent-Disposition: form-data; name="n"\r\n\r\nx',
        ),
        "not form-data": (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Type: a/b\r\n\r\nd\r\n--b--",
        ),
        "endless headers": (
            "multipart/form-data; boundary=b",
            b"--b\r\n" + b"X-A: b\r\n" * 5000 + b"\r\nd\r\n--b--",
        ),
        "no file part": (
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--b--',
        ),
    }
    for what, (content_type, body) in bodies.items():
        response = media.http.post(
            media.url(),
            content=body,
            headers=media.headers("alice", **{"Content-Type": content_type}),
        )
        assert response.status_code == 400, (what, response.text)
        twilio_error(response.json(), 400, 20001)

    poll(lambda: set(media_files(root)) == before, timeout=5, what="the refused uploads' files")
    assert len(db.unattached_media(utc_now() + timedelta(days=1))) == rows_before


def test_a_form_part_file_name_is_checked_before_anything_is_stored(
    node: Node, media: Media, db: Store
) -> None:
    root = node.workdir / "media"
    before = set(media_files(root))
    rows_before = len(db.unattached_media(utc_now() + timedelta(days=1)))
    for name in (b"a\x00b.png", b"n" * 15_000 + b".png", b"a\x1bb.png"):
        body = (
            b'--b\r\nContent-Disposition: form-data; name="f"; filename="' + name + b'"\r\n'
            b"Content-Type: image/png\r\n\r\n" + b"d" * 1000 + b"\r\n--b--\r\n"
        )
        response = media.http.post(
            media.url(),
            content=body,
            headers=media.headers("alice", **{"Content-Type": "multipart/form-data; boundary=b"}),
        )
        twilio_error(response.json(), 400, 20001)
    poll(lambda: set(media_files(root)) == before, timeout=5, what="the refused uploads' files")
    assert len(db.unattached_media(utc_now() + timedelta(days=1))) == rows_before


def test_an_uploaded_html_page_cannot_run_on_the_origin(media: Media) -> None:
    record = media.upload("alice", b"<script>alert(1)</script>", "text/html", filename="x.html")
    content = media.get("alice", record["links"]["content_direct_temporary"])
    assert content.headers["content-type"] == "text/html"
    assert content.headers["content-disposition"].startswith("attachment;")
    assert content.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in content.headers["content-security-policy"]


def test_a_crafted_content_type_cannot_make_a_page_of_an_image(media: Media, db: Store) -> None:
    refused = media.upload(
        "alice", b"<script>alert(1)</script>", "image/png;a=,text/html", expect=400
    )
    twilio_error(refused, 400, 20001)
    form = media.http.post(
        media.url(),
        files={"file": ("x.png", b"<script>alert(1)</script>", "image/png;a=,text/html")},
        headers=media.headers("alice"),
    )
    twilio_error(form.json(), 400, 20001)
    # Other parameters are dropped: only the checked type is stored and served.
    record = media.upload("alice", b"png", "image/png; name=x.html")
    assert record["content_type"] == "image/png"
    content = media.get("alice", f"/{record['sid']}/Content")
    assert content.headers["content-type"] == "image/png"
    # A row stored before (any parameters) is served as a download of unknown type.
    old = media.upload("alice", b"<script>alert(1)</script>", "image/png")["sid"]
    with db._write() as conn:
        conn.execute(
            s.media.update()
            .where(s.media.c.sid == old)
            .values(content_type="image/png;a=,text/html")
        )
    served = media.get("alice", f"/{old}/Content")
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-disposition"].startswith("attachment")


def test_media_set_answers_each_media_as_the_sdk_expects(media: Media) -> None:
    mine = media.upload("alice", b"mine")["sid"]
    theirs = media.upload("bob", b"theirs")["sid"]
    missing = "ME" + "0" * 32

    response = media.http.post(
        media.url() + "Set",
        json={"command": "get", "list": [{"media_sid": s} for s in (mine, theirs, missing)]},
        headers=media.headers("alice"),
    )

    assert response.status_code == 200
    items = response.json()
    assert [item["code"] for item in items] == [200, 403, 404]
    assert items[0]["media_record"]["sid"] == mine
    assert items[0]["media_record"]["links"]["content_direct_temporary"]
    assert [item["media_record"]["sid"] for item in items[1:]] == [theirs, missing]
    bad = media.http.post(
        media.url() + "Set", json={"command": "put", "list": []}, headers=media.headers("alice")
    )
    twilio_error(bad.json(), 400, 20001)


def test_cross_origin_pages_may_upload(media: Media) -> None:
    preflight = media.http.options(
        media.url(),
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-twilio-token,content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "x-twilio-token" in allowed
    assert "content-type" in allowed
    assert "POST" in preflight.headers["access-control-allow-methods"]
    # Answers, errors too, may be read by the page.
    refused = media.http.post(media.url(), content=b"x")
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"


# -- who may do what -------------------------------------------------------------------------


def test_credentials_are_checked_as_the_sockets_check_them(node: Node, media: Media) -> None:
    none = media.http.post(media.url(), content=b"x")
    twilio_error(none.json(), 401, 20003)

    expired = Tokens(media.creds).token("alice", expires_in=-120)
    answer = media.http.post(media.url(), content=b"x", headers={"X-Twilio-Token": expired})
    twilio_error(answer.json(), 401, 20104)

    garbage = media.http.post(media.url(), content=b"x", headers={"X-Twilio-Token": "a.b.c"})
    assert garbage.status_code == 401

    wrong_secret = Minter(media.creds["account_sid"], media.creds["api_key_sid"], "x" * 32)
    token = wrong_secret.chat_token("alice", media.service_sid)
    forged = media.http.post(media.url(), content=b"x", headers={"X-Twilio-Token": token})
    assert forged.status_code == 401

    bad_basic = media.http.post(media.url(), content=b"x", auth=(media.creds["account_sid"], "x"))
    twilio_error(bad_basic.json(), 401, 20003)

    # A token of a revoked key stops working at once.
    key_sid, secret = node.rest().create_key()
    revocable = Tokens(media.creds, key_sid, secret).token("alice")
    ok = media.http.post(media.url(), content=b"x", headers={"X-Twilio-Token": revocable})
    assert ok.status_code == 201
    node.rest().revoke_key(key_sid)

    def refused() -> bool:
        again = media.http.post(media.url(), content=b"x", headers={"X-Twilio-Token": revocable})
        return again.status_code == 401

    poll(refused, timeout=5, what="a revoked key's token still uploads")


def test_no_basic_challenge_and_no_basic_from_a_page(node: Node, media: Media, db: Store) -> None:
    anonymous = media.http.get(f"{media.url()}/ME{'0' * 32}")
    twilio_error(anonymous.json(), 401, 20003)
    assert "www-authenticate" not in anonymous.headers
    wrong = media.http.post(media.url(), content=b"x", auth=("AC" + "0" * 32, "wrong"))
    twilio_error(wrong.json(), 401, 20003)
    assert "www-authenticate" not in wrong.headers

    rows_before = len(db.unattached_media(utc_now() + timedelta(days=1)))
    from_a_page = media.http.post(
        media.url(),
        content=b"forged",
        auth=media.basic,
        headers={"Origin": "https://elsewhere.example", "Content-Type": "text/plain"},
    )
    twilio_error(from_a_page.json(), 403, 20403)
    assert len(db.unattached_media(utc_now() + timedelta(days=1))) == rows_before
    # A page with a token is what the browser SDKs are, Origin and all.
    token = media.http.post(
        media.url(),
        content=b"fine",
        headers=media.headers(
            "alice", Origin="https://app.example", **{"Content-Type": "text/plain"}
        ),
    )
    assert token.status_code == 201, token.text


def test_a_token_of_another_service_is_refused(node: Node, media: Media) -> None:
    rest = node.rest()
    created = rest.http.post(f"{node.base_url}/v2/Services", data={"FriendlyName": "other"})
    other_sid = created.json()["sid"]
    token = Tokens({**media.creds, "chat_service_sid": other_sid}).token("alice")
    answer = media.http.post(media.url(), content=b"x", headers={"X-Twilio-Token": token})
    twilio_error(answer.json(), 403, 20403)
    # Nor may a user of the other service read this one's media.
    sid = media.upload("alice", b"x")["sid"]
    read = media.http.get(f"{media.url()}/{sid}", headers={"X-Twilio-Token": token})
    twilio_error(read.json(), 403, 20403)
    # Its own media service does not know this one's media.
    there = media.http.get(f"{media.url(other_sid)}/{sid}", headers={"X-Twilio-Token": token})
    twilio_error(there.json(), 404, 20404)


def test_an_upload_is_its_uploaders_then_its_channels(node: Node, media: Media, db: Store) -> None:
    record = media.upload("alice", b"holiday")
    sid = record["sid"]
    assert media.get("alice", f"/{sid}").status_code == 200
    assert media.get(None, f"/{sid}").json()["author"] == "alice"  # the application's server
    twilio_error(media.get("bob", f"/{sid}").json(), 403, 20403)
    twilio_error(media.get("bob", f"/{sid}/Content").json(), 403, 20403)

    _carry(node, db, sid, ["alice", "bob"])

    for identity in ("alice", "bob", None):
        assert media.get(identity, f"/{sid}/Content").content == b"holiday", identity
    carried = media.get("bob", f"/{sid}").json()
    assert carried["channel_sid"].startswith("CH")
    assert carried["message_sid"].startswith("IM")
    twilio_error(media.get("carol", f"/{sid}").json(), 403, 20403)
    twilio_error(media.get("carol", f"/{sid}/Content").json(), 403, 20403)


def test_deleting_its_message_hides_the_media_at_once(node: Node, media: Media, db: Store) -> None:
    sid = media.upload("alice", b"said, then unsaid")["sid"]
    message = _carry(node, db, sid, ["alice", "bob"])
    link = media.get("bob", f"/{sid}").json()["links"]["content_direct_temporary"]
    assert httpx.get(link).content == b"said, then unsaid"

    node.rest().call("DELETE", message, expect=204)

    # No sweep yet: the record, the bytes and a link issued before are gone all the same.
    for identity in ("alice", "bob", None):
        twilio_error(media.get(identity, f"/{sid}").json(), 404, 20404)
        twilio_error(media.get(identity, f"/{sid}/Content").json(), 404, 20404)
    twilio_error(httpx.get(link).json(), 404, 20404)
    listed = media.http.post(
        f"{media.node.base_url}/v1/Services/{media.service_sid}/MediaSet",
        json={"command": "get", "list": [{"media_sid": sid}]},
        headers=media.headers("alice"),
    )
    assert listed.json() == [{"code": 404, "media_record": {"sid": sid}}]


def test_the_server_uploads_without_an_author(media: Media) -> None:
    record = media.upload(None, b"from the app", "text/plain", filename=None)
    assert (record["author"], record["filename"]) == (None, None)
    twilio_error(media.get("alice", f"/{record['sid']}").json(), 403, 20403)


def test_temporary_links_are_checked(media: Media) -> None:
    sid = media.upload("alice", b"secret")["sid"]
    other = media.upload("alice", b"other")["sid"]
    signer = media.signer()
    base = f"{media.url()}/{sid}/Content"

    expires, signature = signer.sign(media.service_sid, sid, time.time())
    assert httpx.get(f"{base}?Expires={expires}&Signature={signature}").content == b"secret"

    old_expires, old_signature = signer.sign(media.service_sid, sid, time.time() - 400)
    expired = httpx.get(f"{base}?Expires={old_expires}&Signature={old_signature}")
    twilio_error(expired.json(), 403, 20403)
    wrong = httpx.get(f"{base}?Expires={expires}&Signature={signature[:-2]}xx")
    twilio_error(wrong.json(), 403, 20403)
    theirs = httpx.get(f"{media.url()}/{other}/Content?Expires={expires}&Signature={signature}")
    twilio_error(theirs.json(), 403, 20403)
    twilio_error(httpx.get(base).json(), 401, 20003)
    superscript = httpx.get(f"{base}?Expires=%C2%B2&Signature=x")
    twilio_error(superscript.json(), 403, 20403)


def test_odd_ranges_get_the_whole_file(media: Media) -> None:
    sid = media.upload("alice", b"0123456789")["sid"]
    for odd in ("bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 5000):
        response = media.get("alice", f"/{sid}/Content", Range=odd)
        assert (response.status_code, response.content) == (200, b"0123456789"), odd
    assert media.get("alice", f"/{sid}/Content", Range="bytes=2-3").content == b"23"


def test_delete_is_the_uploaders_while_no_message_carries_it(
    node: Node, media: Media, db: Store
) -> None:
    root = node.workdir / "media"
    sid = media.upload("alice", b"to go")["sid"]
    assert (root / sid[2:4] / sid[4:6] / sid).exists()

    refused = media.http.delete(f"{media.url()}/{sid}", headers=media.headers("bob"))
    twilio_error(refused.json(), 403, 20403)
    deleted = media.http.delete(f"{media.url()}/{sid}", headers=media.headers("alice"))
    assert deleted.status_code == 204
    assert not (root / sid[2:4] / sid[4:6] / sid).exists()
    twilio_error(media.get("alice", f"/{sid}").json(), 404, 20404)

    carried = media.upload(None, b"kept")["sid"]
    _carry(node, db, carried, ["alice"])
    conflict = media.http.delete(f"{media.url()}/{carried}", auth=media.basic)
    assert conflict.status_code == 409
    assert media.get(None, f"/{carried}/Content").content == b"kept"


# -- limits ----------------------------------------------------------------------------------


@pytest.fixture
def small_service(node: Node) -> Iterator[None]:
    node.rest().call("POST", "", **{"Media.SizeLimitMb": "1"})
    yield
    node.rest().call("POST", "", **{"Media.SizeLimitMb": "150", "Media.AllowedTypes": ""})


def test_the_size_limit_holds_declared_or_not(
    node: Node, media: Media, db: Store, small_service: None
) -> None:
    before = set(media_files(node.workdir / "media"))
    declared = media.http.post(
        media.url(), content=b"x" * (MiB + 1), headers=media.headers("alice")
    )
    twilio_error(declared.json(), 413, 20413)

    def undeclared() -> Iterator[bytes]:  # chunked: no Content-Length to check up front
        for _ in range(20):
            yield b"y" * (MiB // 8)

    streamed = media.http.post(media.url(), content=undeclared(), headers=media.headers("alice"))
    twilio_error(streamed.json(), 413, 20413)
    form = media.http.post(
        media.url(),
        files={"file": ("big.png", b"z" * (MiB + 1), "image/png")},
        headers=media.headers("alice"),
    )
    twilio_error(form.json(), 413, 20413)

    poll(lambda: set(media_files(node.workdir / "media")) == before, timeout=5)
    assert media.upload("alice", b"x" * MiB)["size"] == MiB


def test_a_service_may_allow_only_some_types(node: Node, media: Media, small_service: None) -> None:
    node.rest().call(
        "POST",
        "",
        **{"Media.AllowedTypes": ["image/*", "application/pdf"]},  # type: ignore[arg-type]
    )
    media.upload("alice", b"png", "image/png")
    media.upload("alice", b"pdf", "application/pdf")
    refused = media.upload("alice", b"<html>", "text/html", expect=415)
    twilio_error(refused, 415, 20415)
    form = media.http.post(
        media.url(),
        files={"file": ("a.txt", b"text", "text/plain")},
        headers=media.headers("alice"),
    )
    twilio_error(form.json(), 415, 20415)

    bad = node.rest().call("POST", "", expect=400, **{"Media.AllowedTypes": "image"})
    twilio_error(bad, 400, 20001)
    too_big = node.rest().call("POST", "", expect=400, **{"Media.SizeLimitMb": "151"})
    twilio_error(too_big, 400, 20001)
    node.rest().call("POST", "", **{"Media.AllowedTypes": ""})
    media.upload("alice", b"<html>", "text/html")


@pytest.mark.parametrize("form", [False, True], ids=["raw", "form"])
def test_a_client_that_hangs_up_half_way_leaves_nothing(
    node: Node, media: Media, db: Store, form: bool
) -> None:
    root = node.workdir / "media"
    before = set(media_files(root))
    rows_before = len(db.unattached_media(utc_now() + timedelta(days=1)))

    with half_upload(
        node.port, f"/v1/Services/{media.service_sid}/Media", media.tokens.token("alice"),
        declared=8 * MiB, sent=3 * MiB, form=form,
    ):  # fmt: skip
        poll(
            lambda: [p for p in media_files(root) if p.name.startswith(".upload-")],
            what="the upload's temporary file",
        )

    poll(lambda: set(media_files(root)) == before, timeout=10, what="the cut upload's file")
    assert len(db.unattached_media(utc_now() + timedelta(days=1))) == rows_before


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    """The status and body of the HTTP answer on ``sock`` (with a Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(fields["content-length"]):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), body


def test_an_upload_stalled_past_the_sweeps_wait_is_a_408(
    node: Node, media: Media, db: Store
) -> None:
    root = node.workdir / "media"
    rows_before = len(db.unattached_media(utc_now() + timedelta(days=1)))
    path = f"/v1/Services/{media.service_sid}/Media"
    with socket.create_connection(("127.0.0.1", node.port)) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-Twilio-Token: {media.tokens.token('alice')}\r\nContent-Type: image/png\r\n"
            f"Content-Length: {2 * MiB}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"a" * (MiB + 1))  # over FLUSH: a file is being written
        poll(
            lambda: [p for p in media_files(root) if p.name.startswith(".upload-")],
            what="the upload's temporary file",
        )
        # The sweep, an hour later, takes it for a crashed upload's leftover.
        DiskBlobs(root, recorder(db)).leftovers(db.existing_media, time.time() + 3601)
        sock.sendall(b"b" * (MiB - 1))
        status, body = _answer(sock)
    assert status == 408, body
    twilio_error(json.loads(body), 408, 20408)
    assert not [p for p in media_files(root) if p.name.startswith(".upload-")]
    assert len(db.unattached_media(utc_now() + timedelta(days=1))) == rows_before


# -- the sweep -------------------------------------------------------------------------------


def test_the_sweep_frees_what_no_message_shows(node: Node, media: Media, db: Store) -> None:
    root = node.workdir / "media"
    loose = media.upload("alice", b"never sent")["sid"]
    kept = media.upload("alice", b"sent")["sid"]
    deleted = media.upload("alice", b"sent, then deleted")["sid"]
    _carry(node, db, kept, ["alice"])
    message = _carry(node, db, deleted, ["alice"])
    node.rest().call("DELETE", message, expect=204)
    blobs = DiskBlobs(root, recorder(db))

    soon = sweep(db, blobs, now=utc_now() + timedelta(hours=23))
    assert soon.of_deleted_messages >= 1  # other tests' deleted messages count too
    assert not blobs.path(deleted).exists()
    assert media.get(None, f"/{loose}").status_code == 200  # a day to be sent

    later = sweep(db, blobs, now=utc_now() + timedelta(days=1, minutes=1))
    assert later.unattached >= 1
    for gone in (loose, deleted):
        twilio_error(media.get(None, f"/{gone}").json(), 404, 20404)
        assert not blobs.path(gone).exists()
    assert media.get(None, f"/{kept}/Content").content == b"sent"
