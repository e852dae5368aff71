"""What the courier's pusher may reach: Web Push endpoints (which any chat user registers)
through ``push_allow`` only; FCM token URIs (which the account's owner uploads) through
``webhook_allow``, as webhooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hubbub.settings import ServeSettings
from hubbub.webhooks.process import pusher_for
from tests.push.conftest import NEW_MESSAGE, Fcm, WebPush
from tests.push.tls import Authority

LOOPBACK = ("127.0.0.0/8",)


def _settings(tmp_path: Path, authority: Authority, fcm: Fcm, **allow: tuple[str, ...]) -> Any:
    (ca := tmp_path / "ca.pem").write_text(authority.pem)
    return ServeSettings(push_fcm_url=fcm.receiver.base_url, push_ca_file=str(ca), **allow)


def test_the_webhook_allow_list_does_not_open_web_push_to_private_addresses(
    tmp_path: Path, authority: Authority, fcm: Fcm, webpush: WebPush
) -> None:
    pusher = pusher_for(_settings(tmp_path, authority, fcm, webhook_allow=LOOPBACK))
    try:
        refused = pusher.send(webpush.credential, webpush.receiver.subscribe(), NEW_MESSAGE)
        # The service account's token URI is the owner's: the webhooks' list lets it through.
        sent = pusher.send(fcm.credential, "bob-registration-token", NEW_MESSAGE)
    finally:
        pusher.close()
    assert refused.ok is False
    assert refused.detail.startswith("webpush: refused: ")
    assert webpush.receiver.pushed == []
    assert sent.ok, sent


def test_the_push_allow_list_opens_web_push_and_not_token_uris(
    tmp_path: Path, authority: Authority, fcm: Fcm, webpush: WebPush
) -> None:
    pusher = pusher_for(_settings(tmp_path, authority, fcm, push_allow=LOOPBACK))
    try:
        pushed = pusher.send(webpush.credential, webpush.receiver.subscribe(), NEW_MESSAGE)
        refused = pusher.send(fcm.credential, "bob-registration-token", NEW_MESSAGE)
    finally:
        pusher.close()
    assert pushed.ok, pushed
    assert len(webpush.receiver.pushed) == 1
    assert refused.ok is False
    assert "127.0.0.1 (loopback)" in refused.detail
    assert fcm.receiver.messages == []
