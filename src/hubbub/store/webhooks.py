"""Webhooks of a channel: at most five, addressed by SID under their channel.

A create counts the channel's webhooks after taking the channel's row lock (PostgreSQL; SQLite has
one writer at a time anyway), so concurrent creates queue and the limit holds. Deleting the
channel deletes its webhooks (the foreign key cascades).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from hubbub import sids
from hubbub.store import schema as s
from hubbub.store.codec import channel_webhook_of, strings_json
from hubbub.store.db import Base, channel_sid, find, page_by_created
from hubbub.store.errors import LimitExceeded, NotFound
from hubbub.store.records import (
    CHANNEL_WEBHOOK,
    MAX_CHANNEL_WEBHOOKS,
    UNSET,
    ChannelWebhook,
    Page,
    Unset,
    WebhookType,
)

_TYPES = ("webhook", "trigger", "studio")
_MAX_RETRIES = 3

_t = s.channel_webhooks
# Read for every event in a channel that may call its webhooks: built once.
_OF_CHANNEL = (
    select(_t)
    .where(_t.c.service_sid == bindparam("service_sid"), _t.c.channel_sid == bindparam("channel"))
    .order_by(_t.c.date_created, _t.c.sid)
)
_COUNT = select(func.count()).select_from(_t).where(_t.c.channel_sid == bindparam("channel"))


def _check_retry_count(retry_count: int) -> None:
    if not 0 <= retry_count <= _MAX_RETRIES:
        raise ValueError(f"a retry count is from 0 to {_MAX_RETRIES}, not {retry_count}")


class ChannelWebhookOps(Base):
    def create_channel_webhook(
        self,
        service_sid: str,
        channel: str,
        *,
        type: WebhookType,
        url: str | None = None,
        method: str | None = None,
        filters: Sequence[str] = (),
        triggers: Sequence[str] = (),
        flow_sid: str | None = None,
        retry_count: int = 0,
    ) -> ChannelWebhook:
        if type not in _TYPES:
            raise ValueError(f"a channel webhook's type is one of {_TYPES}, not {type!r}")
        _check_retry_count(retry_count)
        now = self._now()
        with self._write() as conn:
            channel_key = channel_sid(conn, service_sid, channel, lock=True)
            if conn.execute(_COUNT, {"channel": channel_key}).scalar_one() >= MAX_CHANNEL_WEBHOOKS:
                raise LimitExceeded("Channel", "channel_webhooks", MAX_CHANNEL_WEBHOOKS)
            hook = ChannelWebhook(
                sids.new_sid(CHANNEL_WEBHOOK),
                service_sid,
                channel_key,
                type,
                url,
                method,
                tuple(filters),
                tuple(triggers),
                flow_sid,
                retry_count,
                now,
                now,
            )
            conn.execute(
                insert(_t).values(
                    sid=hook.sid,
                    service_sid=service_sid,
                    channel_sid=channel_key,
                    type=type,
                    url=url,
                    method=method,
                    filters=strings_json(hook.filters),
                    triggers=strings_json(hook.triggers),
                    flow_sid=flow_sid,
                    retry_count=retry_count,
                    date_created=now,
                    date_updated=now,
                )
            )
        return hook

    def get_channel_webhook(self, service_sid: str, channel: str, sid: str) -> ChannelWebhook:
        with self._read() as conn:
            channel_key = channel_sid(conn, service_sid, channel)
            stmt = find(_t, "sid", "channel_sid")
            row = conn.execute(stmt, {"sid": sid, "channel_sid": channel_key}).first()
        if row is None:
            raise NotFound("ChannelWebhook", sid)
        return channel_webhook_of(row)

    def list_channel_webhooks(
        self, service_sid: str, channel: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[ChannelWebhook]:
        with self._read() as conn:
            stmt = select(_t).where(_t.c.channel_sid == channel_sid(conn, service_sid, channel))
            return page_by_created(conn, stmt, _t, channel_webhook_of, limit, cursor)

    def update_channel_webhook(
        self,
        service_sid: str,
        channel: str,
        sid: str,
        *,
        url: str | Unset | None = UNSET,
        method: str | Unset | None = UNSET,
        filters: Sequence[str] | Unset = UNSET,
        triggers: Sequence[str] | Unset = UNSET,
        flow_sid: str | Unset | None = UNSET,
        retry_count: int | Unset = UNSET,
    ) -> ChannelWebhook:
        changes: dict[str, Any] = {"date_updated": self._now()}
        if url is not UNSET:
            changes["url"] = url
        if method is not UNSET:
            changes["method"] = method
        if filters is not UNSET:
            changes["filters"] = strings_json(filters)
        if triggers is not UNSET:
            changes["triggers"] = strings_json(triggers)
        if flow_sid is not UNSET:
            changes["flow_sid"] = flow_sid
        if retry_count is not UNSET:
            _check_retry_count(retry_count)
            changes["retry_count"] = retry_count
        with self._write() as conn:
            channel_key = channel_sid(conn, service_sid, channel)
            stmt = update(_t).where(_t.c.sid == sid, _t.c.channel_sid == channel_key)
            row = conn.execute(stmt.values(changes).returning(_t)).first()
        if row is None:
            raise NotFound("ChannelWebhook", sid)
        return channel_webhook_of(row)

    def delete_channel_webhook(self, service_sid: str, channel: str, sid: str) -> None:
        with self._write() as conn:
            channel_key = channel_sid(conn, service_sid, channel)
            stmt = delete(_t).where(_t.c.sid == sid, _t.c.channel_sid == channel_key)
            if conn.execute(stmt).rowcount == 0:
                raise NotFound("ChannelWebhook", sid)

    def channel_webhooks(self, service_sid: str, channel_sid: str) -> list[ChannelWebhook]:
        with self._read() as conn:
            rows = conn.execute(_OF_CHANNEL, {"service_sid": service_sid, "channel": channel_sid})
            return [channel_webhook_of(row) for row in rows]
