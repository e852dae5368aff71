"""``hubbub serve``'s media settings: flags, environment, the settings file, the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubbub.settings import ServeSettings
from tests.test_config import serve, served  # noqa: F401  (a fixture)


@pytest.mark.usefixtures("clean_environment")
def test_media_settings_flow_to_the_workers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    served: list[ServeSettings],  # noqa: F811
) -> None:
    assert serve(capsys, "--db", f"sqlite:///{tmp_path / 'chat.db'}") == (0, "")
    chosen = served[-1]
    assert (chosen.media_store, chosen.media_dir) == ("disk", None)
    assert chosen.media_directory == str(tmp_path / "media")  # beside the SQLite database

    monkeypatch.setenv("HUBBUB_DATA_DIR", str(tmp_path / "data"))
    assert serve(capsys, "--db", "postgresql://u@127.0.0.1/db", "--media-store", "database")[0] == 0
    assert served[-1].media_store == "database"
    assert served[-1].media_directory == str(tmp_path / "data" / "media")

    monkeypatch.setenv("HUBBUB_MEDIA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("HUBBUB_MEDIA_STORE", "database")
    monkeypatch.setenv("HUBBUB_DB", "postgresql://u@127.0.0.1/db")
    assert serve(capsys)[0] == 0
    assert (served[-1].media_store, served[-1].media_directory) == (
        "database",
        str(tmp_path / "elsewhere"),
    )
    assert ServeSettings.from_json(served[-1].to_json()) == served[-1]

    settings = tmp_path / "hubbub.toml"
    settings.write_text(f'media-store = "disk"\nmedia-dir = "{tmp_path / "file"}"\n')
    assert serve(capsys, "--config", str(settings))[0] == 0
    assert (served[-1].media_store, served[-1].media_dir) == ("disk", str(tmp_path / "file"))


@pytest.mark.usefixtures("clean_environment")
def test_the_database_store_is_refused_on_sqlite_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    served: list[ServeSettings],  # noqa: F811
) -> None:
    status, err = serve(
        capsys, "--db", f"sqlite:///{tmp_path / 'chat.db'}", "--media-store", "database"
    )
    assert status != 0
    assert err == (
        "hubbub: --media-store database needs PostgreSQL: on SQLite a long upload would hold "
        "the database's one write lock (use --media-store disk)\n"
    )
    assert served == []
