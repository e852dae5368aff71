"""Mint and verify Access Tokens: hubbub side by side with twilio-python and PyJWT.

Every contender runs in the same process, in interleaved rounds, so a noisy neighbour slows
them all alike; the figures are medians over rounds, the ratios are of medians.

    .venv/bin/python benchmarks/bench_tokens.py [--rounds 15] [--number 20000]
"""

from __future__ import annotations

import argparse
import hmac
import platform
import statistics
import time
import timeit
from collections.abc import Callable

import jwt as pyjwt
import twilio
from twilio.jwt.access_token import AccessToken as TwilioAccessToken
from twilio.jwt.access_token.grants import ChatGrant as TwilioChatGrant

from hubbub.tokens import AccessToken, ChatGrant, verify
from hubbub.tokens.minter import Minter

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
KEY_SID = "SK" + "89abcdef01234567" * 2
SECRET = "f1e2d3c4b5a697887766554433221100"  # 32 characters, like a real API key secret
SERVICE_SID = "IS" + "fedcba9876543210" * 2


def median_microseconds(
    contenders: dict[str, Callable[[], object]], rounds: int, number: int
) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            seconds = timeit.timeit(call, number=number)
            samples[name].append(seconds / number * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=20000, help="calls per round")
    args = parser.parse_args()

    minter = Minter(ACCOUNT_SID, KEY_SID, SECRET)
    now = int(time.time())

    def twilio_mint() -> str:
        grant = TwilioChatGrant(service_sid=SERVICE_SID)
        token: str = TwilioAccessToken(
            ACCOUNT_SID, KEY_SID, SECRET, grants=[grant], identity="alice"
        ).to_jwt()
        return token

    def hubbub_drop_in() -> str:
        grant = ChatGrant(service_sid=SERVICE_SID)
        return AccessToken(ACCOUNT_SID, KEY_SID, SECRET, grants=[grant], identity="alice").to_jwt()

    def hubbub_minter() -> str:
        return minter.chat_token("alice", SERVICE_SID)

    token = twilio_mint()
    assert token == hubbub_drop_in() == hubbub_minter() or int(time.time()) != now
    signing_input = token.rpartition(".")[0].encode()
    key = SECRET.encode()

    def bare_hmac() -> bytes:
        return hmac.digest(key, signing_input, "sha256")

    secrets = {KEY_SID: SECRET}

    def pyjwt_decode() -> object:
        return pyjwt.decode(token, SECRET, algorithms=["HS256"])

    def hubbub_verify() -> object:
        return verify(token, secrets)

    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"twilio {twilio.__version__}, PyJWT {pyjwt.__version__}; "
        f"median of {args.rounds} rounds × {args.number} calls"
    )
    mint = median_microseconds(
        {
            "twilio-python AccessToken(...).to_jwt()": twilio_mint,
            "hubbub AccessToken(...).to_jwt() (drop-in)": hubbub_drop_in,
            "hubbub Minter.chat_token() (hot path)": hubbub_minter,
            "bare hmac.digest(signing input)": bare_hmac,
        },
        args.rounds,
        args.number,
    )
    checks = median_microseconds(
        {
            'PyJWT jwt.decode(token, secret, algorithms=["HS256"])': pyjwt_decode,
            "hubbub verify(token, secrets)": hubbub_verify,
        },
        args.rounds,
        args.number,
    )
    width = max(map(len, [*mint, *checks]))
    print("\nMint, µs per token")
    for name, value in mint.items():
        print(f"  {name:<{width}}  {value:7.2f}")
    print("\nVerify, µs per token")
    for name, value in checks.items():
        print(f"  {name:<{width}}  {value:7.2f}")

    twilio_us, drop_in_us, minter_us, hmac_us = mint.values()
    pyjwt_us, verify_us = checks.values()
    print("\nRatios")
    print(f"  mint, hot path vs twilio-python:   {twilio_us / minter_us:5.1f}× faster  (goal ≥ 5×)")
    print(f"  mint, drop-in vs twilio-python:    {twilio_us / drop_in_us:5.1f}× faster")
    print(
        f"  mint, hot path vs bare HMAC:       {minter_us / hmac_us:5.2f}× the cost (goal ≤ 2.5×)"
    )
    print(f"  verify vs PyJWT:                   {pyjwt_us / verify_us:5.1f}× faster  (goal ≥ 8×)")


if __name__ == "__main__":
    main()
