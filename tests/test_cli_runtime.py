"""CLI commands open a runtime (database, blobs), never the web app; `serve` stops cleanly."""

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ganstudio.cli import app as cli
from tests import imagegen
from tests.conftest import database_url_for
from tests.waiting import free_port, wait_for

runner = CliRunner()


def _imported_by(statement: str) -> set[str]:
    """Run `statement` in a fresh interpreter; return which of the watched modules it imported."""
    watched = ["torch", "ganstudio.app", "fastapi.applications", "ganstudio.inference.pipeline"]
    code = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps([m for m in {watched!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_imports_neither_the_web_app_nor_torch() -> None:
    assert _imported_by("import ganstudio.cli") == set()


def test_importing_the_web_app_leaves_torch_to_the_executors() -> None:
    # The web process queues renders (render_spec) but never runs a network itself.
    assert _imported_by("import ganstudio.app") == {"ganstudio.app", "fastapi.applications"}


def test_no_cli_command_builds_the_web_app(
    cli_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ganstudio.app

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a CLI command built the whole web app")

    monkeypatch.setattr(ganstudio.app, "create_app", refuse)
    photo = tmp_path / "a.png"
    photo.write_bytes(imagegen.distinct_png(1))
    commands = [
        ["migrate"],
        ["users", "add", "quinn", "--role", "qa"],
        ["users", "token", "quinn"],
        ["users", "list"],
        ["filters", "add", "Toon"],
        ["filters", "list"],
        ["samples", "import", str(photo), "--as", "quinn"],
        ["blobs", "sweep"],
    ]
    for command in commands:
        result = runner.invoke(cli, command)
        assert result.exit_code == 0, (command, result.output, result.exception)


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return bool(answer.status == 200)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_exits_0_after_a_clean_shutdown_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    # `make demo` reports "Error 130/143" when its command dies of Ctrl+C instead of exiting.
    # The worker runs, so the executors' zygote is up too: a terminal's Ctrl+C reaches the
    # whole process group, and the zygote must not answer it with a traceback.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANSTUDIO_")}
    env.update(
        GANSTUDIO_DATA_DIR=str(tmp_path / "data"),
        GANSTUDIO_WORKER="thread",
        GANSTUDIO_BLOB_SWEEP_INTERVAL_SECONDS="0",
    )
    database_url = database_url_for(tmp_path / "data")  # the PostgreSQL pass's database
    if database_url is not None:
        env["GANSTUDIO_DATABASE_URL"] = database_url
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ganstudio", "serve", "--port", str(port)],
        cwd=tmp_path,  # no .env from the source tree
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )
    try:
        wait_for(
            lambda: _healthy(f"http://127.0.0.1:{port}/healthz"),
            "the server to answer /healthz",
            every=0.1,
            process=server,
            ignoring=(OSError,),  # not listening yet
        )
        os.killpg(server.pid, stop)  # like a terminal: the signal reaches the whole group
        output, _ = server.communicate(timeout=120)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, output
    assert "Application shutdown complete" in output
    assert "Traceback" not in output, output
