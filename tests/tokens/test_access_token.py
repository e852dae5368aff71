"""Minting: byte-identical to twilio-python 9.x, and refusing what no Chat Service accepts."""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
import twilio.jwt.access_token as twilio_access_token
import twilio.jwt.access_token.grants as twilio_grants
from hypothesis import given, settings
from hypothesis import strategies as st

import hubbub.tokens as hubbub_tokens
from hubbub.tokens import (
    AccessToken,
    ChatGrant,
    InvalidGrants,
    InvalidHeader,
    InvalidIssuer,
    LifetimeTooLong,
    MalformedToken,
    TokenError,
    TokenExpired,
    VideoGrant,
    verify,
)
from hubbub.tokens.encoding import b64url_decode
from hubbub.tokens.minter import Minter
from tests.support import ACCOUNT_SID, KEY_SID, NOW, SECRET, SERVICE_SID


@contextmanager
def frozen_clock(now: float):
    """Both libraries read time.time(); the clock is the one thing that must not move."""
    with mock.patch("time.time", return_value=now):
        yield


def both(cls_name: str, **kwargs: Any) -> tuple[Any, Any]:
    return getattr(hubbub_tokens, cls_name)(**kwargs), getattr(twilio_grants, cls_name)(**kwargs)


def mint_both(grant_specs: list[tuple[str, dict[str, Any]]], now: float, **kwargs: Any):
    ours, theirs = [], []
    for name, fields in grant_specs:
        a, b = both(name, **fields)
        ours.append(a)
        theirs.append(b)
    with frozen_clock(now):
        mine = AccessToken(grants=ours, **kwargs).to_jwt()
        twilios = twilio_access_token.AccessToken(grants=theirs, **kwargs).to_jwt()
    return mine, twilios


sid_hex = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
optional_text = st.none() | st.text(max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
other_grants = st.lists(
    st.one_of(
        st.tuples(st.just("VideoGrant"), st.fixed_dictionaries({"room": optional_text})),
        st.tuples(
            st.just("SyncGrant"),
            st.fixed_dictionaries({"service_sid": optional_text, "endpoint_id": optional_text}),
        ),
        st.tuples(
            st.just("VoiceGrant"),
            st.fixed_dictionaries(
                {
                    "incoming_allow": st.none() | st.booleans() | st.just("yes"),
                    "outgoing_application_sid": optional_text,
                    "outgoing_application_params": st.none()
                    | st.dictionaries(st.text(max_size=8), json_values, max_size=3),
                    "push_credential_sid": optional_text,
                    "endpoint_id": optional_text,
                }
            ),
        ),
        st.tuples(
            st.just("TaskRouterGrant"),
            st.fixed_dictionaries(
                {"workspace_sid": optional_text, "worker_sid": optional_text, "role": optional_text}
            ),
        ),
        st.tuples(
            st.just("PlaybackGrant"),
            st.fixed_dictionaries(
                {"grant": st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=3)}
            ),
        ),
    ),
    max_size=3,
)


@st.composite
def token_inputs(draw: st.DrawFn) -> dict[str, Any]:
    now = draw(st.integers(1_500_000_000, 2_000_000_000))
    specs = draw(other_grants)
    identity = draw(st.none() | st.text(min_size=1, max_size=60))
    if identity and draw(st.booleans()):
        chat_fields = {
            "service_sid": "IS" + draw(sid_hex),
            "endpoint_id": draw(optional_text),
            "deployment_role_sid": draw(optional_text),
            "push_credential_sid": draw(optional_text),
        }
        specs.insert(draw(st.integers(0, len(specs))), ("ChatGrant", chat_fields))
    nbf_choice = draw(st.sampled_from(["default", "none", "past"]))
    kwargs: dict[str, Any] = {
        "account_sid": "AC" + draw(sid_hex),
        "signing_key_sid": "SK" + draw(sid_hex),
        "secret": draw(st.text(alphabet="0123456789abcdefABCDEF-_", min_size=32, max_size=64)),
        "identity": identity,
        "region": draw(st.none() | st.sampled_from(["us1", "ie1", "au1"]) | st.text(max_size=6)),
    }
    start = now
    if nbf_choice == "none":
        kwargs["nbf"] = None
    elif nbf_choice == "past":
        start = now - draw(st.integers(0, 3600))
        kwargs["nbf"] = start
    lifetime_left = 86400 - (now - start)
    if draw(st.booleans()):
        kwargs["ttl"] = draw(st.integers(1, lifetime_left))
    else:
        kwargs["valid_until"] = now + draw(st.integers(1, lifetime_left))
    return {"now": now, "specs": specs, "kwargs": kwargs}


@settings(max_examples=400, deadline=None)
@given(token_inputs())
def test_identical_to_twilio_python_for_random_inputs(inputs: dict[str, Any]) -> None:
    mine, twilios = mint_both(inputs["specs"], inputs["now"], **inputs["kwargs"])
    assert mine == twilios
    # And every token we mint verifies.
    kwargs = inputs["kwargs"]
    verified = verify(mine, {kwargs["signing_key_sid"]: kwargs["secret"]}, now=inputs["now"])
    assert verified.account_sid == kwargs["account_sid"]
    assert verified.identity == (kwargs["identity"] or None)


def test_typical_chat_token_layout_matches_twilio_and_facts() -> None:
    mine, twilios = mint_both(
        [("ChatGrant", {"service_sid": SERVICE_SID})],
        NOW,
        account_sid=ACCOUNT_SID,
        signing_key_sid=KEY_SID,
        secret=SECRET,
        identity="alice",
        region="ie1",
    )
    assert mine == twilios
    header, payload, _ = mine.split(".")
    assert (
        b64url_decode(header) == b'{"alg":"HS256","cty":"twilio-fpa;v=1","twr":"ie1","typ":"JWT"}'
    )
    claims = json.loads(b64url_decode(payload))
    assert list(claims) == ["jti", "grants", "iss", "exp", "nbf", "sub"]
    assert list(claims["grants"]) == ["chat", "identity"]
    assert claims["jti"] == f"{KEY_SID}-{NOW}"
    assert claims["exp"] - claims["nbf"] == 3600


def test_non_ascii_identity_is_escaped_like_twilio() -> None:
    mine, twilios = mint_both(
        [("ChatGrant", {"service_sid": SERVICE_SID})],
        NOW,
        account_sid=ACCOUNT_SID,
        signing_key_sid=KEY_SID,
        secret=SECRET,
        identity="zoë 🦉",
    )
    assert mine == twilios
    assert "\\u00eb" in b64url_decode(mine.split(".")[1]).decode("ascii")


def test_to_jwt_ttl_overrides_valid_until_like_twilio() -> None:
    kwargs = {
        "account_sid": ACCOUNT_SID,
        "signing_key_sid": KEY_SID,
        "secret": SECRET,
        "identity": "bob",
        "valid_until": NOW + 100,
    }
    with frozen_clock(NOW):
        mine = AccessToken(**kwargs).to_jwt(ttl=600)
        twilios = twilio_access_token.AccessToken(**kwargs).to_jwt(ttl=600)
    assert mine == twilios
    assert json.loads(b64url_decode(mine.split(".")[1]))["exp"] == NOW + 600


def test_add_grant_and_payload_and_headers_mirror_twilio() -> None:
    grants: list[Any] = [ChatGrant(service_sid=SERVICE_SID)]
    token = AccessToken(ACCOUNT_SID, KEY_SID, SECRET, grants=grants, identity="carol")
    token.add_grant(VideoGrant(room="r1"))
    assert len(grants) == 2  # the caller's list, as in twilio-python
    theirs = twilio_access_token.AccessToken(ACCOUNT_SID, KEY_SID, SECRET, identity="carol")
    theirs.add_grant(twilio_grants.ChatGrant(service_sid=SERVICE_SID))
    theirs.add_grant(twilio_grants.VideoGrant(room="r1"))
    with frozen_clock(NOW):
        assert token.payload == theirs.payload
        assert token.headers == theirs.headers
        assert token.to_jwt() == theirs.to_jwt()
    with pytest.raises(ValueError, match="AccessTokenGrant"):
        token.add_grant("chat")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="AccessTokenGrant"):
        AccessToken(ACCOUNT_SID, KEY_SID, SECRET, grants=[{"chat": {}}])  # type: ignore[list-item]


def test_later_grant_with_same_key_wins_like_twilio() -> None:
    mine, twilios = mint_both(
        [
            ("VideoGrant", {"room": "first"}),
            ("ChatGrant", {"service_sid": SERVICE_SID}),
            ("VideoGrant", {"room": "second"}),
        ],
        NOW,
        account_sid=ACCOUNT_SID,
        signing_key_sid=KEY_SID,
        secret=SECRET,
        identity="dave",
    )
    assert mine == twilios
    grants = json.loads(b64url_decode(mine.split(".")[1]))["grants"]
    assert list(grants) == ["video", "chat", "identity"]
    assert grants["video"] == {"room": "second"}


def test_minter_chat_token_is_the_same_token() -> None:
    minter = Minter(ACCOUNT_SID, KEY_SID, SECRET)
    with frozen_clock(NOW):
        expected = AccessToken(
            ACCOUNT_SID, KEY_SID, SECRET, grants=[ChatGrant(SERVICE_SID)], identity="erin", ttl=900
        ).to_jwt()
    assert minter.chat_token("erin", SERVICE_SID, ttl=900, now=NOW) == expected


@pytest.mark.parametrize(
    "identity", ["US" + "0" * 32, "MB" + "a" * 32, "al\ud800ice", "a" * 257, "al\x00ice", "system"]
)
def test_minter_refuses_identities_no_chat_session_takes(identity: str) -> None:
    with pytest.raises(InvalidGrants, match="identity") as refused:
        Minter(ACCOUNT_SID, KEY_SID, SECRET).chat_token(identity, SERVICE_SID, now=NOW)
    assert refused.value.code == 20106
    # AccessToken stays twilio-python's twin: it mints them, and the session refuses them.
    chat = [("ChatGrant", {"service_sid": SERVICE_SID})]
    mine, twilios = mint_both(
        chat, NOW, account_sid=ACCOUNT_SID, signing_key_sid=KEY_SID, secret=SECRET,
        identity=identity, ttl=600,
    )  # fmt: skip
    assert mine == twilios


# -- where twilio-python mints a token no Chat Service accepts, we refuse ------------------

REFUSED = [
    pytest.param({"ttl": 86401}, LifetimeTooLong, id="lifetime-over-24h"),
    pytest.param({"valid_until": NOW + 90000}, LifetimeTooLong, id="valid-until-over-24h"),
    pytest.param({"nbf": NOW - 10, "ttl": 86400}, LifetimeTooLong, id="old-nbf-stretches-life"),
    pytest.param({"ttl": 0, "valid_until": NOW - 5}, TokenExpired, id="already-expired"),
    pytest.param({"ttl": -60}, TokenExpired, id="negative-ttl"),
    pytest.param({"identity": None}, InvalidGrants, id="chat-without-identity"),
    pytest.param({"identity": ""}, InvalidGrants, id="chat-with-empty-identity"),
    pytest.param({"identity": 42}, InvalidGrants, id="non-string-identity"),
    pytest.param({"account_sid": "ACxxxxxxxx"}, InvalidIssuer, id="account-sid-shape"),
    pytest.param({"account_sid": "AC" + "A" * 32}, InvalidIssuer, id="account-sid-uppercase"),
    pytest.param({"signing_key_sid": "AC" + "0" * 32}, InvalidIssuer, id="key-sid-is-account"),
    pytest.param({"signing_key_sid": "SK" + "0" * 31}, InvalidIssuer, id="key-sid-short"),
]


@pytest.mark.parametrize(("change", "error"), REFUSED)
def test_mint_refuses_what_verify_refuses(change: dict[str, Any], error: type[TokenError]) -> None:
    kwargs: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "signing_key_sid": KEY_SID,
        "secret": SECRET,
        "identity": "frank",
        **change,
    }
    with frozen_clock(NOW), pytest.raises(error) as refused:
        AccessToken(grants=[ChatGrant(service_sid=SERVICE_SID)], **kwargs).to_jwt()
    assert isinstance(refused.value, ValueError)
    assert refused.value.code == error.code

    # twilio-python mints it anyway; our own verifier turns that token down for the same reason.
    with frozen_clock(NOW):
        twilios = twilio_access_token.AccessToken(
            grants=[twilio_grants.ChatGrant(service_sid=SERVICE_SID)], **kwargs
        ).to_jwt()
    with pytest.raises(TokenError) as rejected:
        verify(twilios, {kwargs["signing_key_sid"]: SECRET}, now=NOW)
    assert rejected.value.code == error.code


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"service_sid": None}, InvalidGrants, "service_sid"),
        ({"service_sid": "CH" + "0" * 32}, InvalidGrants, "Chat Service SID"),
    ],
)
def test_chat_grant_needs_a_service(
    change: dict[str, Any], error: type[TokenError], words: str
) -> None:
    with pytest.raises(error, match=words):
        AccessToken(
            ACCOUNT_SID, KEY_SID, SECRET, grants=[ChatGrant(**change)], identity="g"
        ).to_jwt()


@pytest.mark.parametrize(
    ("attribute", "value", "error"),
    [
        ("ttl", 3600.5, TokenExpired),
        ("ttl", "3600", TokenExpired),
        ("valid_until", float(NOW + 60), TokenExpired),
        ("nbf", "now", MalformedToken),
        ("secret_key", "", TokenError),
        ("algorithm", "RS256", InvalidHeader),
    ],
)
def test_inputs_of_the_wrong_type_are_refused(
    attribute: str, value: Any, error: type[TokenError]
) -> None:
    token = AccessToken(ACCOUNT_SID, KEY_SID, SECRET, identity="h")
    setattr(token, attribute, value)
    with pytest.raises(error):
        token.to_jwt(now=NOW)


def test_hs512_when_the_algorithm_is_changed_like_twilio() -> None:
    secret = SECRET * 2  # PyJWT warns about HS512 keys under 64 bytes
    token = AccessToken(ACCOUNT_SID, KEY_SID, secret, identity="i")
    theirs = twilio_access_token.AccessToken(ACCOUNT_SID, KEY_SID, secret, identity="i")
    token.algorithm = theirs.algorithm = "HS512"
    with frozen_clock(NOW):
        assert token.to_jwt() == theirs.to_jwt()
    assert verify(token.to_jwt(now=NOW), {KEY_SID: secret}, now=NOW).algorithm == "HS512"
