"""An S3 server for tests: moto in server mode (`python -m moto.server`), a subprocess on a free
loopback port that speaks the S3 protocol. Tests only: production uses a real object store.

Use from a test through the fixtures in tests/conftest.py:
- `s3_server` (session): the running server; `s3_server.env` holds the AWS_* variables a
  subprocess (e.g. `ganstudio worker`) needs, and the test process has them set already;
- `s3_bucket` (per test): a new, empty bucket's name;
- `s3_blob_url` (per test): `s3://<new bucket>/blobs?endpoint_url=…`, for GANSTUDIO_BLOB_URL.
For a subprocess: `env = {**os.environ, **s3_server.env, "GANSTUDIO_BLOB_URL": s3_blob_url}`.
"""

import itertools
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.waiting import free_port, wait_for

START_SECONDS = 60
# Credentials moto accepts; never real ones. The config files are pointed away so that a
# developer's ~/.aws (a profile, a real key) cannot reach the tests, and no instance metadata
# lookup is tried.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL")


@dataclass
class S3Server:
    """A running moto server; buckets are made per test."""

    endpoint_url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=lambda: dict(AWS_ENV))
    _names: Iterator[int] = field(default_factory=itertools.count)

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=AWS_ENV["AWS_DEFAULT_REGION"]
        )

    def make_bucket(self) -> str:
        name = f"ganstudio-test-{os.getpid()}-{next(self._names)}"
        self.client().create_bucket(Bucket=name)
        return name

    def blob_url(self, bucket: str, prefix: str = "blobs") -> str:
        return f"s3://{bucket}/{prefix}?endpoint_url={self.endpoint_url}"


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2):
        return True


@contextmanager
def moto_server(log_dir: Path) -> Iterator[S3Server]:
    """Start `python -m moto.server` on a free port; stop it on exit."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = (log_dir / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **AWS_ENV},
    )
    try:
        wait_for(
            lambda: _answers(f"{endpoint}/moto-api/"),
            f"moto.server to answer (its log: {log_dir / 'moto.log'})",
            seconds=START_SECONDS,
            every=0.2,
            process=process,
            ignoring=(OSError,),  # not listening yet
        )
        yield S3Server(endpoint_url=endpoint, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def aws_environment() -> Iterator[None]:
    """Set the dummy AWS_* variables in this process (boto3 reads them), restore them after."""
    saved = {name: os.environ.get(name) for name in (*AWS_ENV, *UNSET)}
    os.environ.update(AWS_ENV)
    for name in UNSET:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def damage_blob(store: Any, sha256: str, data: bytes = b"not what was stored") -> None:
    """Overwrite a stored blob's bytes behind the store's back (a disk or bucket gone bad)."""
    from ganstudio.storage.blobs import LocalBlobStore

    if isinstance(store, LocalBlobStore):
        store.path_for(sha256).write_bytes(data)
    else:
        store.client.put_object(Bucket=store.bucket, Key=store.key_for(sha256), Body=data)
