"""Settings: GANSTUDIO_* variables, the generated secret key, the default database URL."""

import os
import threading
from pathlib import Path

import pytest

from ganstudio.config import SecretKeyError, Settings
from ganstudio.storage import private


def test_settings_read_the_ganstudio_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANSTUDIO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GANSTUDIO_MAX_IMAGE_PIXELS", "1234")
    settings = Settings(_env_file=None)
    assert settings.max_image_pixels == 1234
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'ganstudio.db'}"
    monkeypatch.setenv("GANSTUDIO_DATABASE_URL", "postgresql+psycopg://db/studio")
    assert Settings(_env_file=None).sqlalchemy_url == "postgresql+psycopg://db/studio"


def test_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Settings(_env_file=None, data_dir=tmp_path).signing_key
    second = Settings(_env_file=None, data_dir=tmp_path).signing_key
    assert first == second and len(first) >= 40
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
    given = "g" * 32
    assert Settings(_env_file=None, data_dir=tmp_path, secret_key=given).signing_key == given


def test_secret_keys_shorter_than_32_bytes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError, match="GANSTUDIO_SECRET_KEY is 5 bytes long"):
        _ = Settings(_env_file=None, data_dir=tmp_path, secret_key="short").signing_key
    (tmp_path / "secret_key").write_text("")  # what a crash of the old key writer left
    with pytest.raises(SecretKeyError, match="delete the file to generate a new one"):
        _ = Settings(_env_file=None, data_dir=tmp_path).signing_key


def test_a_crash_while_writing_the_key_leaves_no_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(_fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(private.os, "fsync", crash)
    with pytest.raises(OSError, match="disk gone"):
        _ = Settings(_env_file=None, data_dir=tmp_path).signing_key
    assert not (tmp_path / "secret_key").exists()
    assert list(tmp_path.iterdir()) == []  # nor a temp file
    monkeypatch.undo()
    assert len(Settings(_env_file=None, data_dir=tmp_path).signing_key) >= 32


def test_servers_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    start = threading.Barrier(8)
    keys: list[str] = []

    def read_key() -> None:
        start.wait()
        keys.append(Settings(_env_file=None, data_dir=tmp_path).signing_key)

    threads = [threading.Thread(target=read_key) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) >= 32
    assert os.listdir(tmp_path) == ["secret_key"]


def test_a_server_database_gets_the_configured_pool_with_pre_ping() -> None:
    from ganstudio.db.session import PoolSettings, make_engine

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_pool_size=7,
        database_max_overflow=3,
        database_pool_timeout_seconds=4,
        database_pool_recycle_seconds=60,
    )
    # Nothing connects until first use: no server is needed to read the pool's settings.
    engine = make_engine("postgresql+psycopg://u@127.0.0.1:1/x", PoolSettings.of(settings))
    pool = engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (7, 3, 4)  # type: ignore[attr-defined]
    assert (pool._recycle, pool._pre_ping) == (60, True)
    engine.dispose()
