"""Twilio's JavaScript chat SDKs from npm, installed once into ``.cache/twilio-sdks/``.

Four releases, side by side under npm aliases so that one ``node_modules`` holds them all:
twilio-chat 5.x and 6.x (Programmable Chat) and @twilio/conversations 2.x and 3.x. Each is
pinned to an exact version: a new release may speak twilsock differently, so bumping one is a
change of its own (the marker file makes the next run reinstall).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SDK_DIR = ROOT / ".cache" / "twilio-sdks"
MARKER = SDK_DIR / "hubbub-installed.json"

#: The SDKs the driver knows, by their alias in ``node_modules``.
SDKS = ("chat5", "chat6", "conv2", "conv3")
#: What ``npm install`` is given: the aliases above, and ``ws`` (the WebSocket that twilsock
#: uses under Node.js; each twilsock release also brings its own).
PACKAGES = (
    "chat5@npm:twilio-chat@5.0.2",
    "chat6@npm:twilio-chat@6.0.0",
    "conv2@npm:@twilio/conversations@2.7.0",
    "conv3@npm:@twilio/conversations@3.0.1",
    "ws@8.23.1",
)
#: Each SDK's minified browser bundle, inside its package: twilio-chat 5.x still has it
#: under dist/, 6.x moved it to builds/ (its dist/ holds the CommonJS modules instead).
BUNDLES = {
    "chat5": "dist/twilio-chat.min.js",
    "chat6": "builds/twilio-chat.min.js",
    "conv2": "builds/twilio-conversations.min.js",
    "conv3": "builds/twilio-conversations.min.js",
}


def node_modules() -> Path:
    """The ``node_modules`` folder holding the pinned SDKs, installed unless they are there."""
    modules = SDK_DIR / "node_modules"
    if not _installed(modules):
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "npm is needed for the Twilio SDK tests (scripts/test installs Debian's npm)"
            )
        SDK_DIR.mkdir(parents=True, exist_ok=True)
        MARKER.unlink(missing_ok=True)
        done = subprocess.run(
            [
                npm,
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                # The versions as given in package.json, not as ^ranges.
                "--save-exact",
                "--prefix",
                str(SDK_DIR),
                *PACKAGES,
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"npm install of the Twilio SDKs failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}"
            )
        # Written last: an install cut short leaves no marker and is redone next time.
        MARKER.write_text(json.dumps(list(PACKAGES)) + "\n", encoding="utf-8")
    return modules


def _installed(modules: Path) -> bool:
    """Whether the marker names exactly these packages and each SDK's package is in place."""
    try:
        recorded = json.loads(MARKER.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == list(PACKAGES) and all(
        (modules / sdk / "package.json").exists() for sdk in SDKS
    )


def browser_bundle(sdk: str) -> Path:
    """The minified browser bundle of ``sdk`` (one of :data:`SDKS`), installed if need be."""
    path = node_modules() / sdk / BUNDLES[sdk]
    if not path.is_file():
        raise RuntimeError(f"{sdk} has no browser bundle at {path}")
    return path
