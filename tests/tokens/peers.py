"""The other helper libraries, installed for real into .cache/ and driven in a subprocess.

twilio-node (npm) and twilio-python 6.x with PyJWT 1.7 cannot share this interpreter with
twilio-python 9.x, so each is installed once into its own folder and run as a child process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
NODE_DIR = CACHE / "twilio-node"
PY6_DIR = CACHE / "twilio-python-6"
NODE_SCRIPT = Path(__file__).with_name("twilio_node_mint.js")


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, check=True, capture_output=True, text=True, timeout=600, **kwargs
    )


def ensure_twilio_node() -> Path:
    """Install the npm twilio package (major version 6) unless it is there already."""
    if not (NODE_DIR / "node_modules" / "twilio" / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "npm is needed for the twilio-node cross-checks (scripts/test installs it)"
            )
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        _run(
            [
                npm,
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(NODE_DIR),
                "twilio@6",
            ]
        )
    return NODE_DIR


def ensure_twilio_python6() -> Path:
    """Install twilio 6.x with PyJWT 1.7 (the layout of older deployments) into a folder."""
    if not (PY6_DIR / "twilio" / "jwt" / "access_token" / "__init__.py").exists():
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(PY6_DIR),
                "twilio==6.63.2",
                "PyJWT==1.7.1",
            ]
        )
    return PY6_DIR


def mint_with_node(cases: list[dict[str, Any]]) -> list[str]:
    node_dir = ensure_twilio_node()
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed for the twilio-node cross-checks")
    env = {**os.environ, "NODE_PATH": str(node_dir / "node_modules")}
    result = _run([node, str(NODE_SCRIPT)], input=json.dumps(cases), env=env)
    tokens: list[str] = json.loads(result.stdout)
    return tokens


_PY6_MINT = """
import json, sys, time
now = json.loads(sys.argv[1])
time.time = lambda: now  # the same frozen clock as the caller's
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant
out = []
for case in json.load(sys.stdin):
    token = AccessToken(case["account_sid"], case["key_sid"], case["secret"],
                        identity=case["identity"], ttl=case["ttl"], region=case.get("region"))
    token.add_grant(ChatGrant(service_sid=case["service_sid"]))
    out.append(token.to_jwt().decode("ascii"))
json.dump(out, sys.stdout)
"""


def mint_with_twilio_python6(cases: list[dict[str, Any]], now: int) -> list[str]:
    target = ensure_twilio_python6()
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = _run(
        [sys.executable, "-c", _PY6_MINT, json.dumps(now)], input=json.dumps(cases), env=env
    )
    tokens: list[str] = json.loads(result.stdout)
    return tokens
