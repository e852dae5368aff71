"""The browser client's timeline (``client/timeline.js``), run in Node.js: late pushes from
another server process are delivered, repeats are not."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "src" / "hubbub" / "web" / "static"

SCRIPT = """
import { Timeline } from "%s";
const steps = JSON.parse(process.argv[1]);
const timeline = new Timeline();
timeline.startEmpty("CH");
const delivered = steps.map((index) => timeline.live("CH", { index }).map((m) => m.index));
console.log(JSON.stringify(delivered));
"""


def live(*indexes: int) -> list[list[int]]:
    """What the timeline delivers for each pushed index in turn."""
    node = shutil.which("node")
    assert node is not None, "Node.js is missing (scripts/test installs Debian's nodejs)"
    script = SCRIPT % (STATIC / "client" / "timeline.js").as_uri()
    done = subprocess.run(
        [node, "--input-type=module", "-e", script, json.dumps(indexes)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: list[list[int]] = json.loads(done.stdout)
    return result


def test_late_pushes_are_delivered_and_repeats_are_not() -> None:
    assert live(0, 2, 1, 1, 3, 2) == [[0], [2], [1], [], [3], []]


def test_interleaved_processes_lose_nothing() -> None:
    # Two processes' messages, each process's in order, the other's arriving a little late.
    arrivals = [0, 2, 4, 1, 3, 6, 8, 5, 7, 9]
    delivered = [index for step in live(*arrivals) for index in step]
    assert sorted(delivered) == list(range(10))
