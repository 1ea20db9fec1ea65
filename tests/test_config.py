"""Settings: GANSTUDIO_* variables, the generated secret key, the default database URL."""

from pathlib import Path

import pytest

from ganstudio.config import Settings


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
    assert Settings(_env_file=None, data_dir=tmp_path, secret_key="given").signing_key == "given"
