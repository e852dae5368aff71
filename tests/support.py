"""Values and helpers shared by the test modules."""

from __future__ import annotations

import secrets

from hubbub import sids

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
KEY_SID = "SK" + "89abcdef01234567" * 2
SECRET = "s3cr3t-for-tests-0123456789abcdef"
SERVICE_SID = "IS" + "fedcba9876543210" * 2
#: A fixed moment: 2026-11-28T12:00:00Z.
NOW = 1_795_867_200


def random_sid(prefix: str) -> str:
    return sids.new_sid(prefix)


def random_secret() -> str:
    return secrets.token_hex(16)
