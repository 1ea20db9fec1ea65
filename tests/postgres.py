"""A throwaway PostgreSQL cluster for tests: initdb in a temp dir, a free loopback port, no fsync.

    cluster = PostgresCluster.start()        # or the `postgres_cluster` fixture (tests/conftest.py)
    url = cluster.create_database()          # postgresql+psycopg://postgres@127.0.0.1:PORT/db_3
    cluster.restart()                        # existing connections die, as in a server restart
    cluster.stop()                           # and its files are deleted

PostgreSQL refuses to run as root, so as root (here and in CI) initdb and the server run as the
`postgres` user (runuser) in a directory that user owns. Trust authentication on 127.0.0.1 only:
the cluster lives for one test session and holds nothing but test data.
"""

import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

from tests.waiting import free_port, wait_for

# Debian/Ubuntu keep the server binaries (initdb, pg_ctl) out of PATH, per major version.
SEARCH_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
SERVER_USER = "postgres"
# Settings for speed: nothing here must survive a crash of the machine.
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "unix_socket_directories": "",
    "listen_addresses": "127.0.0.1",
    "log_min_messages": "warning",
}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (the message says how to get them)."""


def find_bin_dir() -> Path:
    """Return the directory holding initdb and pg_ctl, or raise PostgresUnavailable."""
    configured = os.environ.get("GANSTUDIO_PG_BIN")
    candidates = [Path(configured)] if configured else []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
    candidates.extend(SEARCH_DIRS)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) found: apt-get install -y postgresql, "
        "or set GANSTUDIO_PG_BIN to their directory"
    )


class PostgresCluster:
    """One running PostgreSQL server on 127.0.0.1:`port`, its files under `root`."""

    def __init__(self, *, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir, self.root, self.port = bin_dir, root, port
        self._names = itertools.count(1)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @classmethod
    def start(cls) -> "PostgresCluster":
        """Create and start a new cluster (raises PostgresUnavailable without binaries)."""
        bin_dir = find_bin_dir()
        root = Path(tempfile.mkdtemp(prefix="ganstudio-pg-"))
        cluster = cls(bin_dir=bin_dir, root=root, port=free_port())
        if os.geteuid() == 0:
            shutil.chown(root, user=SERVER_USER, group=SERVER_USER)
        try:
            cluster._run(
                "initdb",
                "-D",
                str(cluster.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
            with (cluster.data_dir / "postgresql.conf").open("a") as conf:
                for name, value in {**FAST_SETTINGS, "port": str(cluster.port)}.items():
                    conf.write(f"{name} = '{value}'\n")
            cluster._pg_ctl("start")
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}")

    def _pg_ctl(self, action: str, *args: str) -> None:
        log = self.root / "server.log"
        self._run("pg_ctl", action, "-D", str(self.data_dir), "-l", str(log), "-w", *args)

    def restart(self) -> None:
        """Restart the server (fast mode: every open connection is cut, as in a real restart)."""
        self._pg_ctl("restart", "-m", "fast")

    def stop_server(self) -> None:
        """Stop the server, keeping its files (start it again with `start_server`)."""
        self._pg_ctl("stop", "-m", "fast")

    def start_server(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        """Stop the server (if running) and delete its files."""
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):  # already stopped
                self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """Return the SQLAlchemy URL (psycopg 3) of `database` on this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        )

    def create_database(self, *, template: str | None = None) -> str:
        """Create a new, empty database (or a copy of `template`); return its URL."""
        name = f"db_{next(self._names)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            # FILE_COPY copies the template's files instead of logging every page to the WAL.
            statement = sql.SQL("{} TEMPLATE {} STRATEGY FILE_COPY").format(
                statement, sql.Identifier(template)
            )
        with self._admin() as admin:
            admin.execute(statement)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of `url`, cutting any connection still open to it."""
        name = url.rsplit("/", 1)[1]
        with self._admin() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def wait_until_ready(self, timeout: float = 30) -> None:
        """Wait until the server accepts connections (after a restart by someone else)."""
        wait_for(
            self._accepts_connections,
            "PostgreSQL to accept connections",
            seconds=timeout,
            every=0.1,
            ignoring=(psycopg.OperationalError,),  # the last one is chained to the failure
        )

    def _accepts_connections(self) -> bool:
        self._admin().close()
        return True
