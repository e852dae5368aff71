"""Reading Twilio-style parameters, and the list envelope."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from hubbub.chat.errors import ApiError
from hubbub.web.paging import envelope, page_request
from hubbub.web.params import Params, header_flag


def refused(call: object, code: int = 20001) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.status == 400
    assert caught.value.code == code
    return caught.value


def test_form_body_with_dotted_and_repeated_keys() -> None:
    form = Params.from_body(
        b"FriendlyName=Caf%C3%A9&Limits.ChannelMembers=10&Permission=a&Permission=b&Flag=TRUE&Empty="
    )
    assert form.text("FriendlyName") == "Café"
    assert form.integer("Limits.ChannelMembers", minimum=1, maximum=1000) == 10
    assert form.repeated("Permission") == ["a", "b"]
    assert form.boolean("Flag") is True
    assert form.text("Empty") == ""
    assert form.text("Missing") is None
    assert "Empty" in form


def test_bad_parameters_are_400s_that_name_them() -> None:
    form = Params([("N", "ten"), ("B", "yes"), ("A", "{nope"), ("D", "yesterday"), ("C", "x")])
    assert "N" in refused(lambda: form.integer("N")).message
    refused(lambda: form.boolean("B"))
    refused(lambda: form.attributes("A"), 50304)
    refused(lambda: form.timestamp("D"))
    refused(lambda: form.choice("C", ("a", "b")))
    error = refused(lambda: Params([]).required_text("Identity"))
    assert error.message == "Missing required parameter Identity in the post body"
    refused(lambda: Params([("N", "5")]).integer("N", maximum=3, code=50061), 50061)
    refused(lambda: Params([("T", "x" * 11)]).text("T", max_length=10))
    refused(lambda: Params.from_body(b"\xff\xfe"))
    refused(lambda: Params.from_body(b"CreatedBy=a%00b").text("CreatedBy"))
    refused(lambda: Params.from_body(b"FriendlyName=%FF"))
    refused(lambda: Params([("A", '{"n": NaN}')]).attributes("A"), 50304)
    refused(lambda: Params([("A", "[" * 5000)]).attributes("A"), 50304)
    refused(lambda: Params([("Permission", "ok"), ("Permission", "a\x00")]).repeated("Permission"))


def test_timestamps_are_utc_whole_seconds_within_four_digit_years() -> None:
    form = Params(
        [
            ("A", "2021-03-04T05:06:07.9+02:00"),
            ("B", "2021-03-04T05:06:07"),
            ("C", "0760-01-01T00:00:00Z"),
        ]
    )
    assert form.timestamp("A") == datetime(2021, 3, 4, 3, 6, 7, tzinfo=UTC)
    assert form.timestamp("B") == datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    refused(lambda: form.timestamp("C"))


def test_header_flag() -> None:
    assert header_flag(None, "X") is None
    assert header_flag(" False ", "X") is False
    with pytest.raises(ApiError):
        header_flag("-Infinity", "X")


def test_page_request_bounds() -> None:
    assert page_request(Params([])).size == 50
    refused(lambda: page_request(Params([("PageSize", "1001")])), 20007)
    refused(lambda: page_request(Params([("PageSize", "0")])))
    refused(lambda: page_request(Params([("Page", "2")])))  # without the token of page 1


def test_next_page_url_keeps_repeated_filters() -> None:
    request = page_request(Params([("Identity", "a"), ("Identity", "b")]), ("Identity",))
    body = envelope("members", [], request, "http://h/m", "CUR")
    assert parse_qs(urlsplit(body["meta"]["next_page_url"]).query)["Identity"] == ["a", "b"]


def test_next_page_url_is_absolute_and_keeps_every_filter() -> None:
    request = page_request(Params([("PageSize", "2"), ("Type", "private")]), ("Type",))
    body = envelope(
        "channels", [{"sid": "CH1"}], request, "http://h:1/v2/Services/IS1/Channels", "CUR"
    )
    meta = body["meta"]
    assert body["channels"] == [{"sid": "CH1"}]
    assert meta["key"] == "channels"
    assert (meta["page"], meta["page_size"], meta["previous_page_url"]) == (0, 2, None)
    next_url = urlsplit(meta["next_page_url"])
    assert (next_url.scheme, next_url.netloc, next_url.path) == (
        "http",
        "h:1",
        "/v2/Services/IS1/Channels",
    )
    assert parse_qs(next_url.query) == {
        "Type": ["private"],
        "PageSize": ["2"],
        "Page": ["1"],
        "PageToken": ["CUR"],
    }
    last = envelope("channels", [], request, "http://h:1/x", None)
    assert last["meta"]["next_page_url"] is None
