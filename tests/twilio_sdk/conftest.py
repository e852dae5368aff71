"""Screenshots of the browser-bundle tests (``test_browser_bundle.py``): beside the browser
tests' own, not inside them, since those tests empty their folder when they start."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS, Shots

SDK_SCREENSHOTS = SCREENSHOTS.parent / "twilio-sdk-browser"
_TAKEN = pytest.StashKey[bool]()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    """Numbered screenshots of this test's pages, in ``SDK_SCREENSHOTS/<test name>/``."""
    folder = SDK_SCREENSHOTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    request.config.stash[_TAKEN] = True
    return Shots(folder)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if terminalreporter.config.stash.get(_TAKEN, False):
        terminalreporter.write_line(f"twilio SDK browser screenshots: {SDK_SCREENSHOTS}")
