"""The chat page's JavaScript type-checks: TypeScript's checker over the files as served.

Every module starts with ``// @ts-check`` and carries JSDoc types; there is no build step, so
``tsc`` only checks (``noEmit``). It is installed once from npm into ``.cache/``, at a pinned
version (a new version may find new faults: bumping it is a change of its own).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "src" / "hubbub" / "web"  # tsconfig.json; it checks static/**/*.js
STATIC = PROJECT / "static"
TYPESCRIPT = "5.9.3"
TYPESCRIPT_DIR = ROOT / ".cache" / f"typescript-{TYPESCRIPT}"


def ensure_tsc() -> Path:
    """The pinned TypeScript's ``tsc`` script, installed into ``.cache/`` unless it is there."""
    tsc = TYPESCRIPT_DIR / "node_modules" / "typescript" / "bin" / "tsc"
    if not tsc.exists():
        npm = shutil.which("npm")
        assert npm is not None, "npm is missing (scripts/test installs Debian's npm)"
        TYPESCRIPT_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(TYPESCRIPT_DIR),
                f"typescript@{TYPESCRIPT}",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    return tsc


def test_every_module_asks_to_be_checked() -> None:
    modules = sorted(STATIC.rglob("*.js"))
    assert modules
    unchecked = [
        str(path.relative_to(STATIC))
        for path in modules
        if not path.read_text(encoding="utf-8").startswith("// @ts-check\n")
    ]
    assert unchecked == []


def test_the_javascript_type_checks() -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js is missing (scripts/test installs Debian's nodejs)"
    done = subprocess.run(
        [node, str(ensure_tsc()), "-p", str(PROJECT), "--pretty", "false"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"tsc found type errors:\n{done.stdout}{done.stderr}"
