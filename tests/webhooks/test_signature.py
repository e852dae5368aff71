"""``X-Twilio-Signature``: what ``prepare`` makes, twilio-python's own validator accepts."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
from twilio.request_validator import RequestValidator

from hubbub.webhooks.signature import SIGNATURE_HEADER, Prepared, prepare, sign

TOKEN = "0123456789abcdef0123456789abcdef"
PARAMS = [
    ("EventType", "onMessageSent"),
    ("Body", "héllo wörld ✓ & more=+%"),
    ("Attributes", '{"b": 2}'),
    ("Attributes", '{"a": 1}'),  # a repeated name, out of order
    ("ChannelSid", "CH" + "0" * 32),
]
URLS = [
    "https://example.com/hooks/chat",
    "https://example.com:8443/hooks/chat",
    "http://127.0.0.1:8080/hooks/chat",
    "https://example.com/hooks/chat?account=main&x=%C3%A9",
]


class MultiDict:
    """Form fields as a web framework hands them over: each name with all its values."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self.pairs))

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]


def received(prepared: Prepared) -> tuple[dict[str, str], MultiDict]:
    """The headers and form fields as the receiver parses them off the wire."""
    return dict(prepared.headers), MultiDict(parse_qsl(prepared.body.decode("ascii")))


def test_twilio_documents_this_signature() -> None:
    # The example in Twilio's security documentation.
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675310"),
        ("Digits", "1234"),
        ("From", "+14158675310"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert sign("12345", url, params) == "GvWf1cFY/Q7PnoempGyD5oXAezc="
    assert sign("12345", url, params[::-1]) == "GvWf1cFY/Q7PnoempGyD5oXAezc="


@pytest.mark.parametrize("url", URLS)
def test_a_post_is_accepted_by_twilios_validator(url: str) -> None:
    prepared = prepare("POST", url, PARAMS, TOKEN)
    headers, form = received(prepared)

    assert prepared.url == url
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form.pairs == PARAMS  # in the order given, every value
    assert RequestValidator(TOKEN).validate(prepared.url, form, headers[SIGNATURE_HEADER])


@pytest.mark.parametrize("url", URLS)
def test_a_get_carries_the_parameters_in_a_signed_query(url: str) -> None:
    prepared = prepare("GET", url, PARAMS, TOKEN)
    headers = dict(prepared.headers)

    assert prepared.body == b""
    assert "Content-Type" not in headers
    base, _, query = prepared.url.partition("?")
    assert base == url.partition("?")[0]
    original = parse_qsl(urlsplit(url).query)
    assert parse_qsl(query) == original + PARAMS
    assert RequestValidator(TOKEN).validate(prepared.url, {}, headers[SIGNATURE_HEADER])


def test_a_wrong_token_or_a_tampered_request_is_refused() -> None:
    url = URLS[1]
    validator = RequestValidator(TOKEN)
    post = prepare("POST", url, PARAMS, TOKEN)
    headers, form = received(post)
    signature = headers[SIGNATURE_HEADER]
    assert not RequestValidator("f" * 32).validate(url, form, signature)
    tampered = MultiDict([*form.pairs[:-1], ("ChannelSid", "CH" + "1" * 32)])
    assert not validator.validate(url, tampered, signature)
    assert not validator.validate(url, MultiDict(form.pairs[:-1]), signature)
    assert not validator.validate(url + "?extra=1", form, signature)

    get = prepare("GET", url, PARAMS, TOKEN)
    signature = dict(get.headers)[SIGNATURE_HEADER]
    assert not validator.validate(
        get.url.replace("onMessageSent", "onMessageRemoved"), {}, signature
    )


def test_unsigned_requests_and_what_the_receiver_sees() -> None:
    prepared = prepare("post", "https://example.com", [("A", "1")], None)
    assert prepared.headers == (("Content-Type", "application/x-www-form-urlencoded"),)
    assert prepared.url == "https://example.com/"  # what the receiver reconstructs, and checks

    # No fragment (never sent), and nothing a URL cannot carry on the wire.
    prepared = prepare("GET", "https://example.com/a b/é?q=1#top", [("A", "1")], TOKEN)
    assert prepared.url == "https://example.com/a%20b/%C3%A9?q=1&A=1"
    signature = dict(prepared.headers)[SIGNATURE_HEADER]
    assert RequestValidator(TOKEN).validate(prepared.url, {}, signature)

    with pytest.raises(ValueError, match="GET or POST"):
        prepare("PUT", "https://example.com/", [], TOKEN)


def test_an_internationalized_host_is_requested_and_signed_in_its_ascii_form() -> None:
    prepared = prepare("POST", "https://Bücher.example:8443/hooks", PARAMS, TOKEN)
    assert prepared.url == "https://xn--bcher-kva.example:8443/hooks"
    headers, form = received(prepared)
    assert RequestValidator(TOKEN).validate(prepared.url, form, headers[SIGNATURE_HEADER])
