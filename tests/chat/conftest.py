"""The operations tests use the real gateway of ``tests/realtime``."""

from tests.realtime.conftest import realtime_server  # noqa: F401 - a fixture, used by name
