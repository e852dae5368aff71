"""``hubbub serve`` as a user runs it: every worker shares the cookie key and the token
settings, a logout in one is a logout in all, nothing secret reaches its output, and the
proxies it trusts decide whether its cookie is Secure."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.auth.test_upstream import closed_port
from tests.test_server_cli import free_port

HUBBUB = Path(sys.executable).with_name("hubbub")


def clean_environment() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HUBBUB_", "TWILIO_")) and k != "FORWARDED_ALLOW_IPS"
    }


def hubbub(tmp_path: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [str(HUBBUB), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_environment(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class Output:
    """What a stopped ``hubbub serve`` wrote."""

    stdout = ""
    stderr = ""


@contextmanager
def serving(tmp_path: Path, db: str, *options: str) -> Iterator[tuple[str, Output]]:
    """``hubbub serve`` on a free loopback port until the block ends; its output after."""
    port = free_port()
    server = subprocess.Popen(
        [str(HUBBUB), "serve", "--db", db, "--port", str(port), *options],
        cwd=tmp_path,
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    output = Output()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        yield base, output
    finally:
        server.terminate()
        output.stdout, output.stderr = server.communicate(timeout=30)


def test_two_workers_share_sessions_and_settings(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    hubbub(tmp_path, "users", "add", "alice", "--password-stdin", "--db", db, stdin="s3cret\n")
    options = ("--workers", "2", "--token-ttl", "300", "--token-max-ttl", "600")
    with serving(tmp_path, db, *options) as (base, _):
        login = httpx.post(f"{base}/login", json={"username": "alice", "password": "s3cret"})
        assert login.status_code == 200
        cookie = {"Cookie": login.headers["set-cookie"].split(";")[0]}

        # Each request on a new connection: both workers answer some of them.
        answers = [httpx.post(f"{base}/token?ttl=5000", headers=cookie) for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
        assert {a.json()["ttl"] for a in answers} == {600}
        assert httpx.get(f"{base}/token", headers=cookie).json()["ttl"] == 300

        assert httpx.post(f"{base}/logout", headers=cookie).status_code == 204
        after = [httpx.post(f"{base}/token", headers=cookie).status_code for _ in range(20)]
        assert set(after) == {401}


def test_no_secret_reaches_the_output_of_serve(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    password = "correct-Pa55word-never-logged"
    wrong = "wrong-Pa55word-never-logged"
    hubbub(tmp_path, "users", "add", "alice", "--password-stdin", "--db", db, stdin=password)
    created = hubbub(tmp_path, "apitokens", "create", "--identity", "bot", "--db", db)
    api_token = dict(line.split() for line in created.splitlines())["api_token"]
    upstream = f"http://127.0.0.1:{closed_port()}/whoami"  # down: every ask fails and is logged
    options = ("--auth", "users,apitokens,upstream", "--upstream-url", upstream)
    secrets = [password, wrong, api_token, "app-session-never-logged", "hbt_"]
    with (
        serving(tmp_path, db, *options) as (base, output),
        httpx.Client(base_url=base) as client,
    ):
        login = client.post("/login", json={"username": "alice", "password": password})
        assert login.status_code == 200
        cookie = login.headers["set-cookie"].split(";")[0]
        secrets += [cookie.split("=", 1)[1], cookie.split("=", 1)[1].split(".")[0]]
        failed = client.post("/login", json={"username": "alice", "password": wrong})
        assert failed.status_code == 401
        form = client.post("/login", data={"username": "nobody", "password": password})
        assert form.status_code == 401

        for method, headers in (
            ("POST", {"Cookie": cookie}),
            ("GET", {"Cookie": cookie}),
            ("POST", {"Authorization": f"Bearer {api_token}"}),
        ):
            answer = client.request(method, "/token?ttl=60", headers=headers)
            assert answer.status_code == 200, answer.text
            token = answer.json()["token"]
            secrets += [token, token.split(".")[2]]
        client.cookies.clear()
        for headers in (
            {"Cookie": "app_session=app-session-never-logged"},
            {"Authorization": f"Bearer {api_token}x"},
        ):
            assert client.post("/token", headers=headers).status_code == 503
        assert client.post("/logout", headers={"Cookie": cookie}).status_code == 204
    printed = output.stdout + output.stderr
    # The upstream failures were logged, so the output is where the logs go...
    assert "upstream authenticator is unreachable" in output.stderr
    # ...and nothing that signs anyone in is in it.
    for secret in secrets:
        assert secret not in printed


def test_forwarded_allow_ips_decides_who_may_say_the_request_was_https(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    hubbub(tmp_path, "users", "add", "alice", "--password-stdin", "--db", db, stdin="s3cret\n")
    # A proxy that is not on 127.0.0.1, as seen from the server: another loopback address.
    proxy = httpx.HTTPTransport(local_address="127.0.0.2")
    sign_in = {"json": {"username": "alice", "password": "s3cret"}}
    https = {"X-Forwarded-Proto": "https"}
    with (
        serving(tmp_path, db) as (base, _),
        httpx.Client(base_url=base, transport=proxy) as client,
    ):
        plain = client.post("/login", headers=https, **sign_in).headers["set-cookie"]
        assert plain.startswith("hubbub_session=")  # not trusted: still plain http
        assert "Secure" not in plain
    proxy = httpx.HTTPTransport(local_address="127.0.0.2")
    with (
        serving(tmp_path, db, "--forwarded-allow-ips", "*") as (base, _),
        httpx.Client(base_url=base, transport=proxy) as client,
    ):
        trusted = client.post("/login", headers=https, **sign_in).headers["set-cookie"]
        assert trusted.startswith("__Host-hubbub_session=")
        assert "; Secure" in trusted
        cookie = {"Cookie": trusted.split(";")[0], **https}
        assert client.post("/token", headers=cookie).json()["identity"] == "alice"
