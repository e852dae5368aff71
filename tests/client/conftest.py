"""The SDK's integration tests run against the real gateway of ``tests/realtime``."""

from tests.realtime.conftest import realtime_server  # noqa: F401 - a fixture, used by name
