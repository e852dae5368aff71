"""The sweep: frees the bytes no message will show.

Deleted are uploads no message carried a day after they were made, media whose message is
gone (deleted, or its channel), and bytes without a row (an upload cut off by a crash, media
that went with their service). Each row is deleted before its bytes, and only while its state
still allows it, so an upload attached meanwhile is kept; bytes a crash leaves without a row
are the next sweep's leftovers. ``hubbub serve`` runs it every ``INTERVAL`` seconds in one
thread of its main process (``run``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from hubbub.media.blobs import Blobs
from hubbub.store import Store
from hubbub.store.db import utc_now
from hubbub.store.errors import Conflict, NotFound
from hubbub.store.records import Media

log = logging.getLogger("hubbub.media")

#: How long an upload waits for a message to carry it.
UNATTACHED = timedelta(days=1)
#: How old bytes without a row must be before they count as left over: an upload renames its
#: file into place a moment before writing its row.
LEFTOVER = timedelta(hours=1)
#: Seconds between sweeps.
INTERVAL = 600.0
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Swept:
    unattached: int = 0
    of_deleted_messages: int = 0
    leftovers: int = 0


def sweep(store: Store, blobs: Blobs, *, now: datetime | None = None) -> Swept:
    """One sweep as of ``now`` (tests move it); how much it freed."""
    now = now or utc_now()
    unattached = 0
    while batch := store.unattached_media(now - UNATTACHED, limit=_BATCH):
        freed = _free(store, blobs, batch, unattached=True)
        unattached += freed
        if len(batch) < _BATCH or not freed:
            break
    orphaned = 0
    while batch := store.media_of_deleted_messages(limit=_BATCH):
        freed = _free(store, blobs, batch, unattached=False)
        orphaned += freed
        if len(batch) < _BATCH or not freed:
            break
    left = blobs.leftovers(store.existing_media, (now - LEFTOVER).timestamp())
    return Swept(unattached, orphaned, left)


def _free(store: Store, blobs: Blobs, batch: list[Media], *, unattached: bool) -> int:
    freed = 0
    for media in batch:
        try:
            store.delete_media(media.service_sid, media.sid, unattached=unattached)
        except (NotFound, Conflict):  # gone meanwhile, or a message took it meanwhile
            continue
        blobs.delete(media.sid)
        freed += 1
    return freed


def run(store: Store, blobs: Blobs, stop: threading.Event, interval: float | None = None) -> None:
    """Sweep every ``interval`` seconds (default ``INTERVAL``) until ``stop`` is set; a failed
    sweep is logged and tried again next time."""
    while not stop.wait(INTERVAL if interval is None else interval):
        try:
            swept = sweep(store, blobs)
        except Exception:
            log.exception("the media sweep failed")
            continue
        if swept != Swept():
            log.info("media sweep: %s", swept)
