"""The chat page is served at ``/`` with its assets, locked to its own origin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from hubbub.crypto import SecretBox
from hubbub.store import open_store
from tests.web.server import running


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    from hubbub.web.app import create_app

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('page') / 'hubbub.db'}")
    app = create_app(store, SecretBox(Fernet.generate_key()))
    with running(app) as url, httpx.Client(base_url=url) as client:
        yield client
    store.close()


def test_the_page_and_its_assets_are_served(site: httpx.Client) -> None:
    page = site.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="/static/chat.js"' in page.text
    for asset, kind in [
        ("chat.js", "javascript"),
        ("hubbub-client.js", "javascript"),
        ("chat.css", "text/css"),
    ]:
        response = site.get(f"/static/{asset}")
        assert response.status_code == 200, asset
        assert kind in response.headers["content-type"], asset
        assert response.content == (Path("src/hubbub/web/static") / asset).read_bytes()


def test_every_module_is_served_as_javascript(site: httpx.Client) -> None:
    # Under nosniff, a module served with another type would not run, and neither would the
    # modules importing it.
    static = Path("src/hubbub/web/static")
    modules = sorted(static.rglob("*.js"))
    assert len(modules) > 2
    for module in modules:
        path = module.relative_to(static).as_posix()
        response = site.get(f"/static/{path}")
        assert response.status_code == 200, path
        assert "javascript" in response.headers["content-type"], path
        assert response.content == module.read_bytes(), path
        assert "default-src 'self'" in response.headers["content-security-policy"], path


def test_the_page_only_trusts_its_own_origin(site: httpx.Client) -> None:
    for path in ("/", "/static/chat.js"):
        headers = site.get(path).headers
        policy = headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert headers["x-content-type-options"] == "nosniff"


def test_nothing_outside_the_static_folder_is_served(site: httpx.Client) -> None:
    for path in (
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/missing.js",
        "/static/client/../../app.py",
        "/static/client/%2e%2e/%2e%2e/app.py",
        "/static/../tsconfig.json",
    ):
        response = site.get(path)
        assert response.status_code == 404, path
        assert "create_app" not in response.text
