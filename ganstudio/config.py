"""Settings, read from GANSTUDIO_* environment variables (or a .env file)."""

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ganstudio.db.session import PoolSettings
from ganstudio.storage.private import make_private_dir, write_new_private_file

MiB = 1024 * 1024
MIN_SECRET_KEY_BYTES = 32


class SecretKeyError(ValueError):
    """The secret key is too short or unreadable; the message says how to fix it."""


class Settings(BaseSettings):
    """Everything that differs between one GAN Studio install and another."""

    model_config = SettingsConfigDict(env_prefix="GANSTUDIO_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="SQLite file, blobs and the secret key")
    database_url: str | None = Field(None, description="any SQLAlchemy URL; default SQLite")
    # Connections each web or worker process keeps to a server database (PostgreSQL; SQLite
    # opens its file per thread). Size the server's max_connections for every process's
    # pool_size + max_overflow.
    database_pool_size: int = Field(
        PoolSettings.size, ge=1, description="connections a process keeps open"
    )
    database_max_overflow: int = Field(
        PoolSettings.max_overflow,
        ge=0,
        description="extra connections a process may open under load, closed after",
    )
    database_pool_timeout_seconds: float = Field(
        PoolSettings.timeout_seconds,
        gt=0,
        description="how long a request waits for a free connection before it fails",
    )
    database_pool_recycle_seconds: int = Field(
        PoolSettings.recycle_seconds,
        ge=-1,
        description="a connection older than this is replaced (-1: never)",
    )
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda(:[0-9]{1,2})?)$",
        description="where networks run: auto, cpu, cuda or cuda:N (one worker per GPU: "
        "`ganstudio worker --device cuda:1`)",
    )
    max_upload_bytes: int = Field(600 * MiB, description="largest body of an upload route")
    max_body_bytes: int = Field(
        1 * MiB, description="largest JSON or form body of every route that takes no file"
    )
    max_checkpoint_bytes: int = Field(500 * MiB, description="largest checkpoint accepted")
    checkpoint_check_seconds: float = Field(
        120, description="time limit for loading, probing and timing a pushed checkpoint"
    )
    max_image_bytes: int = Field(40 * MiB, description="largest single image accepted")
    max_image_pixels: int = Field(40_000_000, description="decompression-bomb guard")
    max_zip_members: int = Field(2000, description="most files one uploaded .zip may hold")
    max_zip_bytes: int = Field(2048 * MiB, description="most bytes one .zip may expand to")
    secret_key: str | None = Field(None, description="signs cookies; generated when unset")
    session_idle_seconds: int = Field(14 * 24 * 3600, description="an unused session ends")
    session_max_age_seconds: int = Field(
        30 * 24 * 3600, description="a session ends this long after sign-in, however busy"
    )
    blob_url: str | None = Field(
        None,
        description="where blobs live: unset = the data dir's blobs folder; a path or file:// "
        "URL; or s3://bucket/prefix?endpoint_url=…&region=… (credentials from the AWS "
        "environment, never the URL)",
    )
    blob_grace_seconds: int = Field(3600, description="unreferenced blobs younger stay")
    blob_sweep_interval_seconds: int = Field(6 * 3600, description="0 turns the sweep off")
    worker: Literal["thread", "off"] = Field(
        "thread", description="run renders in a background thread of the server, or not at all"
    )
    worker_heartbeat_seconds: float = Field(
        10, gt=0, description="how often each render worker writes that it is alive"
    )
    worker_timeout_seconds: float = Field(
        60,
        gt=0,
        description="a worker not heard from for this long is dead: any live worker queues its "
        "renders again (keep it several heartbeats long; clocks must agree, e.g. NTP)",
    )
    network_cache_size: int = Field(4, description="networks kept loaded by the render worker")
    torch_threads: int = Field(
        0,
        ge=0,
        le=1024,
        description="CPU threads of each network's process (0: one per core); with several "
        "workers on one machine, split the cores between them",
    )
    render_batch_size: int = Field(
        0,
        ge=0,
        le=64,
        description="most same-size inputs of one version in one forward pass (0: 8 on a GPU, "
        "1 on a CPU; a GPU batch is cut to fit its free memory)",
    )
    render_time_limit_seconds: float = Field(
        120, description="a render running longer is stopped (its executor killed) and fails"
    )
    sandbox: Literal["auto", "off"] = Field(
        "auto",
        description="auto: run networks under Landlock + seccomp where the kernel has them; "
        "off: resource limits only (for debugging), and TorchScript pushes are refused",
    )
    executor_memory_bytes: int = Field(
        16 * 1024**3, description="address space of each network's process on CPU (0: no limit)"
    )
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
    lpips_weights: Path | None = Field(
        None,
        description="a local file of LPIPS network weights; LPIPS is off without it "
        "(nothing is downloaded)",
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
            return _checked_key(self.secret_key, source="GANSTUDIO_SECRET_KEY")
        key_file = make_private_dir(self.resolved_data_dir) / "secret_key"
        if not key_file.exists():
            write_new_private_file(key_file, secrets.token_urlsafe(48).encode())
        try:
            key = key_file.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretKeyError(
                f"Cannot read the secret key in {key_file} ({exc}). Fix its permissions, or "
                "delete it to generate a new one (this signs everyone out)."
            ) from None
        return _checked_key(key, source=str(key_file))


def _checked_key(key: str, *, source: str) -> str:
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        hint = (
            "set it to at least 32 random characters, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            if source == "GANSTUDIO_SECRET_KEY"
            else "delete the file to generate a new one (this signs everyone out), or set "
            "GANSTUDIO_SECRET_KEY to at least 32 random characters"
        )
        raise SecretKeyError(
            f"The secret key in {source} is {len(key.encode())} bytes long; it needs at least "
            f"{MIN_SECRET_KEY_BYTES} (a short key lets anyone forge sessions; an empty file is "
            f"left by a crash of an older version). To fix it, {hint}."
        )
    return key
