"""Settings, read from GANSTUDIO_* environment variables (or a .env file)."""

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Everything that differs between one GAN Studio install and another."""

    model_config = SettingsConfigDict(env_prefix="GANSTUDIO_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="SQLite file, blobs and the secret key")
    database_url: str | None = Field(None, description="any SQLAlchemy URL; default SQLite")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_upload_bytes: int = Field(600 * MiB, description="largest request body accepted")
    max_checkpoint_bytes: int = Field(500 * MiB, description="largest checkpoint accepted")
    checkpoint_check_seconds: float = Field(
        120, description="time limit for loading, probing and timing a pushed checkpoint"
    )
    max_image_bytes: int = Field(40 * MiB, description="largest single image accepted")
    max_image_pixels: int = Field(40_000_000, description="decompression-bomb guard")
    max_zip_members: int = Field(2000, description="most files one uploaded .zip may hold")
    max_zip_bytes: int = Field(2048 * MiB, description="most bytes one .zip may expand to")
    secret_key: str | None = Field(None, description="signs cookies; generated when unset")
    session_idle_seconds: int = Field(14 * 24 * 3600, description="sign-in lifetime")
    blob_grace_seconds: int = Field(3600, description="unreferenced blobs younger stay")
    blob_sweep_interval_seconds: int = Field(6 * 3600, description="0 turns the sweep off")
    worker: Literal["thread", "off"] = Field(
        "thread", description="run renders in a background thread of the server, or not at all"
    )
    network_cache_size: int = Field(4, description="networks kept loaded by the render worker")
    render_time_limit_seconds: float = Field(120, description="a slower render fails its cell")
    max_comparison_samples: int = Field(1000, description="rows a comparison may have")
    webtest_per_minute: int = Field(
        30, ge=1, description="web tests one user may start in any minute"
    )
    webtest_max_queued_renders: int = Field(
        64, ge=8, description="web-test renders one user may have waiting (8: one full web test)"
    )
    webtest_retention_days: int = Field(
        30, ge=0, description="web-test photos and renders are deleted after this; 0 keeps them"
    )
    queue_window_seconds: int = Field(
        120, ge=1, description="how far back the queue counts each user's renders to be fair"
    )
    queue_comparison_share: float = Field(
        0.25, ge=0, le=1, description="least share of renders comparisons get while web tests wait"
    )
    demo: bool = Field(False, description="seed demo content and show demo sign-ins")
    secure_cookies: bool = Field(False, description="set when served over HTTPS only")

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def blob_dir(self) -> Path:
        return self.resolved_data_dir / "blobs"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'ganstudio.db'}"

    @cached_property
    def signing_key(self) -> str:
        """Return the secret key, generating and keeping one in the data dir when unset."""
        if self.secret_key:
            return self.secret_key
        key_file = self.resolved_data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.resolved_data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.touch(mode=0o600)
        key_file.write_text(key)
        return key
