"""Strict verification: what passes, and every way a token is turned down, with its code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
from typing import Any

import jwt as pyjwt
import pytest

from hubbub.tokens import AccessToken, ChatGrant, TokenError, VerifiedToken, verify
from hubbub.tokens.verify import MAX_TOKEN_LENGTH
from tests.support import ACCOUNT_SID, KEY_SID, NOW, SECRET, SERVICE_SID

SECRETS = {KEY_SID: SECRET}
HEADER = {"alg": "HS256", "cty": "twilio-fpa;v=1", "typ": "JWT"}


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "jti": f"{KEY_SID}-{NOW}",
        "grants": {"chat": {"service_sid": SERVICE_SID}, "identity": "alice"},
        "iss": KEY_SID,
        "exp": NOW + 3600,
        "nbf": NOW,
        "sub": ACCOUNT_SID,
    }
    for key, value in changes.items():
        if value is ...:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft(
    payload: dict[str, Any] | str | None = None,
    *,
    header: dict[str, Any] | str = HEADER,
    secret: str = SECRET,
    digest: str = "sha256",
) -> str:
    """A token built by hand, so that any part of it can be wrong on purpose."""
    header_text = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    payload = claims() if payload is None else payload
    payload_text = (
        payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    )
    signing_input = f"{b64(header_text.encode())}.{b64(payload_text.encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def rejected(token: Any, code: int, *, secrets: Any = SECRETS, **kwargs: Any) -> TokenError:
    kwargs.setdefault("now", NOW)
    with pytest.raises(TokenError) as caught:
        verify(token, secrets, **kwargs)
    assert caught.value.code == code, caught.value
    assert caught.value.status == 401
    return caught.value


def test_a_minted_token_verifies_with_all_its_facts() -> None:
    token = AccessToken(
        ACCOUNT_SID,
        KEY_SID,
        SECRET,
        grants=[ChatGrant(service_sid=SERVICE_SID, endpoint_id="app:alice:1")],
        identity="alice",
        ttl=600,
        region="ie1",
    ).to_jwt(now=NOW)
    result = verify(token, SECRETS, account_sid=ACCOUNT_SID, now=NOW + 10)
    assert isinstance(result, VerifiedToken)
    assert result.identity == "alice"
    assert result.account_sid == ACCOUNT_SID
    assert result.key_sid == KEY_SID
    assert result.chat_service_sid == SERVICE_SID
    assert result.grants["chat"]["endpoint_id"] == "app:alice:1"
    assert (result.not_before, result.expires_at, result.issued_at) == (NOW, NOW + 600, None)
    assert result.region == "ie1"
    assert result.algorithm == "HS256"


def test_secrets_may_be_a_callable() -> None:
    asked: list[str] = []

    def lookup(key_sid: str) -> str | None:
        asked.append(key_sid)
        return SECRET if key_sid == KEY_SID else None

    assert verify(craft(), lookup, now=NOW).identity == "alice"
    assert asked == [KEY_SID]


def test_header_key_order_does_not_matter() -> None:
    # twilio-python 6.x writes typ, alg, cty; twilio-node alg, typ, cty.
    for order in (["typ", "alg", "cty"], ["alg", "typ", "cty"], ["cty", "typ", "alg"]):
        header = {key: HEADER[key] for key in order}
        assert verify(craft(header=header), SECRETS, now=NOW).identity == "alice"


def test_pyjwt_agrees_on_what_we_accept() -> None:
    token = craft()
    decoded = pyjwt.decode(
        token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}
    )
    assert decoded == verify(token, SECRETS, now=NOW).claims


# -- the header -----------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
def test_alg_none_in_any_spelling(alg: str) -> None:
    unsigned = craft(header={**HEADER, "alg": alg}).rsplit(".", 1)[0] + "."
    rejected(unsigned, 20102)
    rejected(craft(header={**HEADER, "alg": alg}), 20102)


@pytest.mark.parametrize(
    "alg", ["RS256", "ES256", "PS256", "EdDSA", "HS1", "hs256", "HS256 ", "HS128"]
)
def test_algorithms_outside_hmac_sha2(alg: str) -> None:
    rejected(craft(header={**HEADER, "alg": alg}), 20102)


def test_rs_hs_key_confusion() -> None:
    # The classic attack: sign with HMAC using the server's *public* key and claim RS256, hoping
    # the verifier feeds that public key to HMAC. Access Tokens are HMAC only, so RS256 is
    # refused before any key is looked at.
    public_pem = "\n".join(
        [
            "-----BEGIN PUBLIC KEY-----",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
            "-----END PUBLIC KEY-----",
        ]
    )
    token = craft(header={**HEADER, "alg": "RS256"}, secret=public_pem)
    rejected(token, 20102, secrets={KEY_SID: public_pem})


@pytest.mark.parametrize(
    "header",
    [
        {**HEADER, "cty": "twilio-fpa;v=2"},
        {"alg": "HS256", "typ": "JWT"},
        {**HEADER, "typ": "JWS"},
        {**HEADER, "crit": ["exp"]},
        {**HEADER, "crit": []},
        {**HEADER, "twr": 1},
        '{"alg":"HS256","alg":"HS256","cty":"twilio-fpa;v=1","typ":"JWT"}',
        '["HS256"]',
        "not json",
    ],
    ids=[
        "cty",
        "no-cty",
        "typ",
        "crit",
        "empty-crit",
        "twr-type",
        "duplicate-key",
        "array",
        "text",
    ],
)
def test_bad_headers(header: dict[str, Any] | str) -> None:
    rejected(craft(header=header), 20102)


# -- shape and encoding ------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "....", 42, None, b"a.b.c"],
    ids=["empty", "one-part", "two-parts", "four-parts", "dots", "int", "none", "bytes"],
)
def test_not_a_jwt(token: Any) -> None:
    rejected(token, 20101)


def test_oversized_token() -> None:
    huge = craft(
        claims(grants={"identity": "x" * MAX_TOKEN_LENGTH, "chat": {"service_sid": SERVICE_SID}})
    )
    error = rejected(huge, 20101)
    assert "at most" in error.message


def test_stripped_truncated_padded_and_noncanonical_signatures() -> None:
    token = craft()
    head, _, signature = token.rpartition(".")
    assert len(signature) == 43
    rejected(f"{head}.", 20107)  # stripped
    rejected(f"{head}.{signature[:-1]}", 20107)  # truncated
    rejected(f"{head}.{signature[:-4]}", 20107)
    rejected(f"{head}.{signature}=", 20107)  # padded
    # Same bytes, other spelling: the low bits of the last character are not zero.
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    noncanonical = signature[:-1] + last[last.index(signature[-1]) + 1]
    assert base64.urlsafe_b64decode(noncanonical + "=") == base64.urlsafe_b64decode(signature + "=")
    error = rejected(f"{head}.{noncanonical}", 20107)
    assert "canonical" in error.message
    rejected(f"{head}.{signature[:-2]}+/", 20107)  # standard, not URL-safe, alphabet


def test_noncanonical_or_padded_payload() -> None:
    payload = claims(jti="x")  # chosen so the encoded payload does not end on a 4-char group
    text = json.dumps(payload, separators=(",", ":")).encode()
    encoded = b64(text)
    assert len(encoded) % 4 in (2, 3)
    header = b64(json.dumps(HEADER, separators=(",", ":")).encode())
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for spelled in (
        encoded[:-1] + last[last.index(encoded[-1]) + 1],
        encoded + "=",
        encoded + "==",
    ):
        signing_input = f"{header}.{spelled}"
        signature = b64(hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest())
        rejected(f"{signing_input}.{signature}", 20101)


@pytest.mark.parametrize(
    "payload",
    [
        '{"jti":"a","jti":"b","grants":{},"iss":"%s","exp":%d,"sub":"%s"}'
        % (KEY_SID, NOW + 60, ACCOUNT_SID),
        '{"grants":{"identity":"a","identity":"b"},"iss":"%s","exp":%d,"sub":"%s"}'
        % (KEY_SID, NOW + 60, ACCOUNT_SID),
        '{"grants":{},"iss":"%s","exp":%d,"sub":"%s","sub":"%s"}'
        % (KEY_SID, NOW + 60, "AC" + "f" * 32, ACCOUNT_SID),
        '{"grants":{},"iss":"%s","exp":NaN,"sub":"%s"}' % (KEY_SID, ACCOUNT_SID),
        "[1,2,3]",
        '"a string"',
        "[" * 3000 + "]" * 3000,
        '{"grants":{},"iss":"%s","exp":%d,"sub":"%s"} trailing' % (KEY_SID, NOW + 60, ACCOUNT_SID),
    ],
    ids=["dup-top", "dup-nested", "dup-sub", "nan", "array", "string", "deep", "trailing"],
)
def test_bad_payloads(payload: str) -> None:
    rejected(craft(payload), 20101)


def test_payload_that_is_not_utf8() -> None:
    header = b64(json.dumps(HEADER, separators=(",", ":")).encode())
    body = b64(b'{"iss":"\xff"}')
    signing_input = f"{header}.{body}"
    signature = b64(hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest())
    rejected(f"{signing_input}.{signature}", 20101)


def test_non_ascii_in_the_token() -> None:
    token = craft()
    rejected(token[:10] + "é" + token[11:], 20101)
    head, payload, signature = token.split(".")
    rejected(f"{head}.{payload[:5]}é{payload[6:]}.{signature}", 20101)
    rejected(f"{head}.{payload}.{signature[:-1]}é", 20101)


# -- keys, signature and who the token is for ------------------------------------------------


def test_unknown_and_revoked_keys() -> None:
    other = "SK" + "1" * 32
    rejected(craft(claims(iss=other)), 20103)
    rejected(craft(), 20103, secrets=lambda _sid: None)
    rejected(craft(), 20103, secrets={})


@pytest.mark.parametrize("iss", [None, 7, "SKshort", "AC" + "0" * 32, "SK" + "G" * 32])
def test_issuer_must_be_an_api_key_sid(iss: Any) -> None:
    rejected(craft(claims(iss=iss if iss is not None else ...)), 20103)


@pytest.mark.parametrize("sub", [None, "ACnope", "SK" + "0" * 32, 12])
def test_subject_must_be_an_account_sid(sub: Any) -> None:
    rejected(craft(claims(sub=sub if sub is not None else ...)), 20103)


def test_subject_must_be_the_expected_account() -> None:
    error = rejected(craft(), 20103, account_sid="AC" + "9" * 32)
    assert ACCOUNT_SID in error.message


def test_wrong_secret_and_altered_payload() -> None:
    rejected(craft(secret="another secret entirely"), 20107)
    head, _, signature = craft().split(".")
    forged = b64(json.dumps(claims(grants={"identity": "mallory"}), separators=(",", ":")).encode())
    rejected(f"{head}.{forged}.{signature}", 20107)


def test_nothing_in_the_claims_is_judged_before_the_signature() -> None:
    bad = claims(exp=NOW - 9999, sub="AC" + "9" * 32, grants={"chat": {}})
    rejected(craft(bad, secret="not the secret"), 20107, account_sid=ACCOUNT_SID)


def test_errors_carry_the_unverified_claims_for_debugging() -> None:
    error = rejected(craft(claims(exp=NOW - 300)), 20104)
    assert error.claims is not None
    assert error.claims["exp"] == NOW - 300
    assert error.header == HEADER
    assert error.to_dict()["more_info"] == "https://www.twilio.com/docs/errors/20104"


# -- time ----------------------------------------------------------------------------------


def test_expired_says_when_and_why() -> None:
    error = rejected(craft(claims(exp=NOW - 240)), 20104)
    assert "expired 4 min ago at 2026-11-28T11:56:00Z" in error.message
    assert "clock" in error.message


def test_not_yet_valid() -> None:
    error = rejected(craft(claims(nbf=NOW + 600)), 20105)
    assert "in 10 min" in error.message


def test_leeway_forgives_small_skew_only() -> None:
    token = craft(claims(exp=NOW - 20, nbf=NOW - 3600))
    assert verify(token, SECRETS, now=NOW, leeway=30).identity == "alice"
    rejected(token, 20104, leeway=10)
    early = craft(claims(nbf=NOW + 20))
    assert verify(early, SECRETS, now=NOW, leeway=30).identity == "alice"
    rejected(early, 20105, leeway=0)


@pytest.mark.parametrize("leeway", [-1, 61, 3.5, "30"])
def test_leeway_is_bounded(leeway: Any) -> None:
    with pytest.raises(ValueError, match="leeway"):
        verify(craft(), SECRETS, now=NOW, leeway=leeway)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"exp": ...}, 20104),
        ({"exp": str(NOW + 60)}, 20104),
        ({"exp": float(NOW + 60)}, 20104),
        ({"exp": True}, 20104),
        ({"exp": None}, 20104),
        ({"nbf": str(NOW)}, 20101),
        ({"nbf": 1.5}, 20101),
        ({"iat": "yesterday"}, 20101),
        ({"jti": 5}, 20101),
        ({"exp": NOW + 86401}, 20157),
        ({"exp": NOW + 10**12}, 20157),
        ({"nbf": ..., "iat": NOW - 10, "exp": NOW + 86395}, 20157),
        ({"nbf": NOW + 120, "exp": NOW + 100}, 20104),
    ],
    ids=[
        "missing-exp",
        "string-exp",
        "float-exp",
        "bool-exp",
        "null-exp",
        "string-nbf",
        "float-nbf",
        "string-iat",
        "int-jti",
        "over-24h",
        "far-future",
        "iat-over-24h",
        "exp-before-nbf",
    ],
)
def test_time_claims(change: dict[str, Any], code: int) -> None:
    rejected(craft(claims(**change)), code)


def test_lifetime_without_nbf_or_iat_counts_from_now_with_leeway() -> None:
    assert verify(craft(claims(nbf=..., exp=NOW + 86400)), SECRETS, now=NOW).not_before is None
    # Minted by a server whose clock runs 20 s ahead: still within the leeway.
    assert verify(craft(claims(nbf=..., exp=NOW + 86420)), SECRETS, now=NOW, leeway=30)
    rejected(craft(claims(nbf=..., exp=NOW + 86401)), 20157, leeway=0)


# -- grants --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grants",
    [
        {"chat": {"service_sid": SERVICE_SID}},
        {"chat": {"service_sid": SERVICE_SID}, "identity": ""},
        {"chat": {}, "identity": "a"},
        {"chat": {"service_sid": "IS123"}, "identity": "a"},
        {"chat": "all", "identity": "a"},
        {"chat": {"service_sid": SERVICE_SID}, "identity": 42},
        ["chat"],
        None,
    ],
    ids=[
        "no-identity",
        "empty-identity",
        "no-service",
        "bad-service",
        "chat-string",
        "int-identity",
        "list",
        "null",
    ],
)
def test_bad_grants(grants: Any) -> None:
    rejected(craft(claims(grants=grants)), 20106)


def test_tokens_without_a_chat_grant_need_no_identity() -> None:
    result = verify(craft(claims(grants={"video": {"room": "r"}})), SECRETS, now=NOW)
    assert result.identity is None
    assert result.chat_service_sid is None


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # The package re-exports the function verify(), which hides the module of the same name.
    module = importlib.import_module("hubbub.tokens.verify")
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(module.hmac, "compare_digest", spy)
    verify(craft(), SECRETS, now=NOW)
    rejected(craft(secret="other"), 20107)
    assert len(compared) == 2
