"""Code run in child processes by the concurrency tests (importable, so ``spawn`` can find it)."""

from __future__ import annotations

from hubbub.store import open_store


def send_messages(url: str, service_sid: str, channel_sid: str, count: int) -> list[int]:
    """Open a store of our own (own engine, own connections) and send ``count`` messages."""
    store = open_store(url, run_migrations=False)
    try:
        return [
            store.create_message(service_sid, channel_sid, body=f"m{i}").index for i in range(count)
        ]
    finally:
        store.close()
