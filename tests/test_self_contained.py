"""A clone alone runs the tests, scripts and benchmarks: none reads outside the checkout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("tests", "scripts", "benchmarks", ".ci")
SKIPPED_SUFFIXES = {".json", ".png", ".pyc"}

# Places that existed only on the machines hubbub was first built on.
OUTSIDE = (re.compile(r"\.\./shared"), re.compile(r"shared/reference"), re.compile(r"/work/"))
# `Path(__file__).resolve().parents[N]`, `.parent.parent…`, and `$(dirname "$0")/../..`.
PARENTS = re.compile(r"__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]")
PARENT_CHAIN = re.compile(r"__file__\)(?:\.resolve\(\))?((?:\.parent)+)\b")
DIRNAME = re.compile(r"dirname \"\$0\"\)((?:/\.\.)+)")


def escapes(relative: Path, text: str) -> list[str]:
    """What in ``text`` (the file at ``relative`` under the root) points outside the root."""
    depth = len(relative.parts) - 1  # directories between the root and the file
    found = [match.group(0) for pattern in OUTSIDE for match in pattern.finditer(text)]
    found += [m.group(0) for m in PARENTS.finditer(text) if int(m.group(1)) > depth]
    found += [m.group(0) for m in PARENT_CHAIN.finditer(text) if m.group(1).count(".") > depth + 1]
    found += [m.group(0) for m in DIRNAME.finditer(text) if m.group(1).count("..") > depth]
    return found


def checked_files() -> list[Path]:
    files = []
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*")):
            if (
                path.is_file()
                and path.suffix not in SKIPPED_SUFFIXES
                and "__pycache__" not in str(path)
            ):
                files.append(path)
    return files


def test_nothing_refers_outside_the_checkout() -> None:
    offenders = {}
    for path in checked_files():
        relative = path.relative_to(ROOT)
        if relative == Path(__file__).relative_to(ROOT):
            continue  # this file names the patterns it looks for
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError:
            continue
        if found := escapes(relative, text):
            offenders[str(relative)] = found
    assert offenders == {}


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        # Put together here, so that this file does not itself name such a path.
        ("tests/web/x.py", "Path(__file__).resolve().parents[3] / " + '"sha' + 'red"'),
        ("tests/x.py", "Path(__file__).parent.parent.parent"),
        ("tests/x.py", "open('" + "../" + "shared/reference/spec.json')"),
        ("scripts/x", 'cd "$(dirname "$0")/../.."'),
    ],
)
def test_the_check_sees_escapes(relative: str, text: str) -> None:
    assert escapes(Path(relative), text)


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        ("tests/web/x.py", "Path(__file__).resolve().parents[2]"),
        ("tests/x.py", "Path(__file__).parent.parent"),
        ("scripts/x", 'cd "$(dirname "$0")/.."'),
    ],
)
def test_the_check_allows_the_root(relative: str, text: str) -> None:
    assert not escapes(Path(relative), text)


def test_twilios_description_is_vendored_with_its_license() -> None:
    folder = ROOT / "tests" / "web" / "openapi"
    assert (folder / "twilio_chat_v2.json").is_file()
    assert "Apache License" in (folder / "LICENSE").read_text()
    notice = (folder / "README.md").read_text()
    assert "twilio/twilio-oai" in notice
    assert "spec/json/twilio_chat_v2.json" in notice
