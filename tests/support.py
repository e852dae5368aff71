"""Values and helpers shared by the test modules."""

from __future__ import annotations

import io
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hubbub import sids

ROOT = Path(__file__).resolve().parents[1]

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


def twilio_error(body: Any, status: int, code: int) -> None:
    """Assert that ``body`` is a Twilio-shaped error with this status and code (and a message)."""
    assert body == {
        "code": code,
        "message": body["message"],
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    assert body["message"]


def server_url(variable: str, script: str, what: str) -> str:
    """A real server for the tests: the URL in ``variable``, else the one ``scripts/<script>``
    prints once it has started it (installing it first if need be). A server the tests cannot
    have fails them; it never skips them."""
    url = os.environ.get(variable)
    if url:
        return url
    done = subprocess.run(
        [str(ROOT / "scripts" / script)], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        pytest.fail(
            f"no {what} for the tests: set {variable} or make scripts/{script} work "
            f"(it said: {done.stderr.strip()})",
            pytrace=False,
        )
    return done.stdout.strip().splitlines()[-1]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``hubbub ARGS`` in this process: the exit status, standard output and standard error."""
    from hubbub.cli import main

    out = io.StringIO()
    capsys.readouterr()
    status = main(list(args), out=out)
    return status, out.getvalue(), capsys.readouterr().err
