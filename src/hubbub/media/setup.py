"""The media store ``hubbub serve``'s settings name, for a worker or the sweep."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hubbub.auth.cookies import derive_key
from hubbub.media.blobs import SPOOL, Blobs, DatabaseBlobs, DiskBlobs, Draft, Record
from hubbub.media.signing import PURPOSE, Signer
from hubbub.store import Media, Store

if TYPE_CHECKING:
    from hubbub.settings import ServeSettings


def recorder(store: Store) -> Record:
    """How a disk upload writes its row: through the store."""

    def record(draft: Draft, size: int) -> Media:
        return store.create_media(
            draft.account_sid,
            draft.service_sid,
            draft.sid,
            content_type=draft.content_type,
            size=size,
            author=draft.author,
            category=draft.category,
            filename=draft.filename,
        )

    return record


def blobs_for(settings: ServeSettings, store: Store) -> Blobs:
    """The blob store of ``settings``: ``DatabaseBlobs`` on the same PostgreSQL (uploads
    spooled in ``spool`` under ``settings.media_directory``), or ``DiskBlobs`` there."""
    if settings.media_store == "database":
        # Uploads are spooled where disk media would live, not in a tmpfs /tmp: 150 MB each.
        return DatabaseBlobs(settings.db, spool=Path(settings.media_directory) / SPOOL)
    return DiskBlobs(settings.media_directory, recorder(store))


def signer_for(master_key: str) -> Signer:
    """The signer of temporary links, with the key every process derives from the master key."""
    return Signer(derive_key(master_key, PURPOSE))
