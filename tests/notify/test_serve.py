"""``hubbub serve`` pushes: its settings (provider URL, extra CA) reach the courier's process,
which sends a REST-sent message's notification to a local FCM receiver."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hubbub.cli import build_parser
from hubbub.crypto import SecretBox, load_master_key
from hubbub.defaults import CommandError
from hubbub.server_cli import serve_settings
from hubbub.settings import ServeSettings
from hubbub.store import open_store
from hubbub.webhooks.process import pusher_for
from tests.push.receivers import Clock, FcmReceiver, serving
from tests.push.tls import Authority, key_pem
from tests.realtime.test_crash import free_port
from tests.realtime.test_nodes import serve, stop, wait_healthy


def test_hubbub_serve_sends_push_notifications_to_the_configured_provider(
    tmp_path: Path,
) -> None:
    authority = Authority()
    (tmp_path / "ca.pem").write_text(authority.pem)
    key = rsa.generate_private_key(65537, 2048)
    email = "pusher@hubbub-test.iam.gserviceaccount.com"
    fcm = FcmReceiver(Clock(), "hubbub-test", email, key.public_key())
    (tmp_path / "fcm").mkdir()
    port = free_port()
    with serving(fcm, authority, tmp_path / "fcm") as fcm_url:
        server = serve(
            tmp_path,
            port,
            "--push-fcm-url",
            fcm_url,
            "--push-ca-file",
            str(tmp_path / "ca.pem"),
            # The service account's token URI is the credential's, reached like a webhook.
            "--webhook-allow",
            "127.0.0.0/8",
            start_new_session=True,
        )
        try:
            wait_healthy(server, port)
            creds = json.loads((tmp_path / "hubbub-credentials.json").read_text())
            account, service = creds["account_sid"], creds["chat_service_sid"]
            auth = (account, creds["auth_token"])
            base = f"http://127.0.0.1:{port}/v2/Services/{service}"
            # What the registration doors and the REST API do, straight into the store.
            box = SecretBox(load_master_key(tmp_path / "hubbub-master.key", env=None))
            store = open_store(f"sqlite:///{tmp_path / 'hubbub.db'}")
            try:
                secrets = {
                    "service_account": {
                        "type": "service_account",
                        "project_id": "hubbub-test",
                        "private_key": key_pem(key),
                        "client_email": email,
                        "token_uri": fcm.token_uri,
                    }
                }
                credential = store.create_credential(
                    account, type="fcm", sealed=box.encrypt(json.dumps(secrets))
                )
                store.register_binding(
                    account,
                    service,
                    identity="bob",
                    binding_type="fcm",
                    address="bob-registration-token",
                    endpoint="bob-phone",
                    message_types=["twilio.channel.new_message"],
                    credential_sid=credential.sid,
                )
            finally:
                store.close()
            for path, form in (
                ("", {"Notifications.NewMessage.Enabled": "true"}),
                ("/Channels", {"UniqueName": "general"}),
                ("/Channels/general/Members", {"Identity": "bob"}),
                ("/Channels/general/Messages", {"Body": "are you there?", "From": "alice"}),
            ):
                answer = httpx.post(base + path, data=form, auth=auth)
                assert answer.status_code in (200, 201), answer.text
            deadline = time.monotonic() + 20
            while not fcm.messages:
                assert time.monotonic() < deadline, f"nothing pushed: {fcm.problems}"
                time.sleep(0.05)
            (message,) = fcm.messages
            assert message["token"] == "bob-registration-token"
            assert message["data"]["twi_body"] == "general;alice: are you there?"
            assert message["data"]["twi_message_type"] == "twilio.channel.new_message"
        finally:
            stop(server)


def test_push_settings_from_flags_and_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def settings(*flags: str) -> ServeSettings:
        return serve_settings(build_parser().parse_args(["serve", *flags]))

    assert settings().push_fcm_url == "https://fcm.googleapis.com"
    assert settings().push_allow == ()  # Web Push endpoints: public addresses only
    monkeypatch.setenv("HUBBUB_PUSH_ALLOW", "127.0.0.0/8, ::1")
    assert settings().push_allow == ("127.0.0.0/8", "::1/128")
    assert settings("--push-allow", "10.0.0.0/8").push_allow == ("10.0.0.0/8",)  # replaces
    assert settings("--webhook-allow", "10.0.0.0/8").push_allow == ("127.0.0.0/8", "::1/128")
    with pytest.raises(CommandError, match=r"^--push-allow: not a network"):
        settings("--push-allow", "localhost")
    monkeypatch.setenv("HUBBUB_PUSH_APNS_URL", "https://apns.test:8443/")
    chosen = settings("--push-fcm-url", "https://127.0.0.1:9443", "--push-ca-file", "ca.pem")
    assert (chosen.push_fcm_url, chosen.push_apns_url) == (
        "https://127.0.0.1:9443",
        "https://apns.test:8443",
    )
    assert chosen.push_apns_sandbox_url == "https://api.sandbox.push.apple.com"
    assert chosen.push_ca_file == "ca.pem"
    assert chosen.push_allow == ("127.0.0.0/8", "::1/128")
    # Carried to the courier's process whole.
    assert ServeSettings.from_json(chosen.to_json()) == chosen
    with pytest.raises(CommandError, match=r"^--push-fcm-url must be https://"):
        settings("--push-fcm-url", "http://fcm.example")
    # A CA file that cannot be read is said in the log; the courier still starts.
    missing = dataclasses.replace(chosen, push_ca_file=str(tmp_path / "nowhere.pem"))
    pusher = pusher_for(missing)
    pusher.close()
    assert "nowhere.pem cannot be used" in caplog.text
