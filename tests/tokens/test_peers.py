"""Tokens minted by the real twilio-node and twilio-python 6.x packages verify here."""

from __future__ import annotations

import json
import time

import pytest

from hubbub.tokens import AccessToken, ChatGrant, TokenError, verify
from hubbub.tokens.encoding import b64url_decode
from tests.support import ACCOUNT_SID, KEY_SID, NOW, SECRET, SERVICE_SID
from tests.tokens.peers import mint_with_node, mint_with_twilio_python6

# HS512 wants a 64-byte key in the JWT libraries' eyes; real Twilio secrets are 32 characters.
LONG_SECRET = SECRET * 2


def node_case(**changes: object) -> dict[str, object]:
    case: dict[str, object] = {
        "accountSid": ACCOUNT_SID,
        "keySid": KEY_SID,
        "secret": LONG_SECRET,
        "identity": "alice",
        "serviceSid": SERVICE_SID,
        "ttl": 600,
    }
    case.update(changes)
    return case


@pytest.fixture(scope="module")
def node_tokens() -> dict[str, str]:
    cases = {
        "plain": node_case(),
        "hs384": node_case(algorithm="HS384"),
        "hs512": node_case(algorithm="HS512"),
        "unicode": node_case(identity="zoë 🦉 名前"),
        "region-nbf": node_case(region="ie1", nbf=int(time.time()) - 5, endpointId="web:1"),
        "numeric-identity": node_case(identity=42),
        "too-long": node_case(ttl=86400 + 3600),
    }
    minted = mint_with_node(list(cases.values()))
    return dict(zip(cases, minted, strict=True))


def test_twilio_node_layout_is_what_facts_describe(node_tokens: dict[str, str]) -> None:
    header_segment, payload_segment, _ = node_tokens["plain"].split(".")
    assert list(json.loads(b64url_decode(header_segment))) == ["alg", "typ", "cty"]
    claims = json.loads(b64url_decode(payload_segment))
    assert list(claims) == ["jti", "grants", "iat", "exp", "iss", "sub"]
    assert list(claims["grants"]) == ["identity", "chat"]


@pytest.mark.parametrize(
    ("name", "algorithm", "identity"),
    [
        ("plain", "HS256", "alice"),
        ("hs384", "HS384", "alice"),
        ("hs512", "HS512", "alice"),
        ("unicode", "HS256", "zoë 🦉 名前"),
        ("numeric-identity", "HS256", "42"),
    ],
)
def test_twilio_node_tokens_verify(
    node_tokens: dict[str, str], name: str, algorithm: str, identity: str
) -> None:
    result = verify(node_tokens[name], {KEY_SID: LONG_SECRET}, account_sid=ACCOUNT_SID)
    assert result.algorithm == algorithm
    assert result.identity == identity
    assert result.chat_service_sid == SERVICE_SID
    assert result.issued_at is not None
    assert result.expires_at - result.issued_at == 600


def test_twilio_node_raw_utf8_payload(node_tokens: dict[str, str]) -> None:
    raw = b64url_decode(node_tokens["unicode"].split(".")[1])
    assert "zoë".encode() in raw  # raw UTF-8, not \u escapes


def test_twilio_node_region_nbf_and_endpoint(node_tokens: dict[str, str]) -> None:
    result = verify(node_tokens["region-nbf"], {KEY_SID: LONG_SECRET})
    assert result.region == "ie1"
    assert result.not_before is not None
    assert result.grants["chat"]["endpoint_id"] == "web:1"


def test_twilio_node_token_over_24h_is_refused(node_tokens: dict[str, str]) -> None:
    with pytest.raises(TokenError) as caught:
        verify(node_tokens["too-long"], {KEY_SID: LONG_SECRET})
    assert caught.value.code == 20157


def test_twilio_node_token_with_the_wrong_secret(node_tokens: dict[str, str]) -> None:
    with pytest.raises(TokenError) as caught:
        verify(node_tokens["plain"], {KEY_SID: SECRET})
    assert caught.value.code == 20107


def test_twilio_python6_tokens_verify_and_share_our_payload() -> None:
    cases = [
        {
            "account_sid": ACCOUNT_SID,
            "key_sid": KEY_SID,
            "secret": SECRET,
            "identity": identity,
            "service_sid": SERVICE_SID,
            "ttl": 900,
            "region": region,
        }
        for identity, region in [("alice", None), ("zoë", "au1")]
    ]
    old_tokens = mint_with_twilio_python6(cases, NOW)
    for case, old in zip(cases, old_tokens, strict=True):
        header_segment, payload_segment, _ = old.split(".")
        assert list(json.loads(b64url_decode(header_segment)))[:3] == ["typ", "alg", "cty"]
        ours = AccessToken(
            ACCOUNT_SID,
            KEY_SID,
            SECRET,
            grants=[ChatGrant(SERVICE_SID)],
            identity=case["identity"],
            ttl=900,
            region=case["region"],
        ).to_jwt(now=NOW)
        # Same claims to the byte; only the header's key order (and so the signature) differs.
        assert payload_segment == ours.split(".")[1]
        assert old != ours
        result = verify(old, {KEY_SID: SECRET}, now=NOW + 1)
        assert result.identity == case["identity"]
        assert result.region == case["region"]
