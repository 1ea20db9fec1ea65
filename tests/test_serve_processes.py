"""`ganstudio serve --workers 2`: two web processes on one database (SQLite, or PostgreSQL on
its pass) answer pages and APIs, share the sign-in throttle, run one render worker between
them, and stop cleanly."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from ganstudio.services.throttle import FREE_ATTEMPTS
from tests.conftest import csrf_from, database_url_for
from tests.waiting import free_port, wait_for

PASSWORD = "a long enough password 1"


def _cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ganstudio", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def _web_processes(pid: int) -> int:
    """How many uvicorn web processes `pid` spawned (multiprocessing's spawn children)."""
    found = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"spawn_main" in cmdline:
            found += 1
    return found


def test_two_web_processes_share_the_throttle_and_one_render_worker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANSTUDIO_")}
    env.update(
        GANSTUDIO_DATA_DIR=str(tmp_path / "data"),
        GANSTUDIO_WORKER="thread",
        GANSTUDIO_BLOB_SWEEP_INTERVAL_SECONDS="0",
        GANSTUDIO_WORKER_HEARTBEAT_SECONDS="0.5",
    )
    database_url = database_url_for(tmp_path / "data")  # on the PostgreSQL pass: PostgreSQL
    if database_url:
        env["GANSTUDIO_DATABASE_URL"] = database_url
    _cli(env, tmp_path, "users", "add", "ada", "--role", "admin", "--password", PASSWORD)
    token = _cli(env, tmp_path, "users", "token", "ada")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "ganstudio", "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,  # no .env from the source tree
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: (
                httpx.get(f"{base}/healthz").status_code == 200 and _web_processes(server.pid) == 2
            ),
            "both web processes to answer /healthz",
            every=0.2,
            process=server,
            ignoring=(httpx.TransportError,),  # not listening yet
        )

        # Each guess on a fresh connection (any process may answer): the free attempts are
        # counted once for all processes, then the next guess is refused.
        answers = []
        for n in range(FREE_ATTEMPTS + 1):
            with httpx.Client(base_url=base) as browser:
                form = browser.get("/login")
                answers.append(
                    browser.post(
                        "/login",
                        data={
                            "name": "ada",
                            "password": f"wrong {n}",
                            "csrf_token": csrf_from(form.text),
                        },
                    ).status_code
                )
        assert answers[-1] == 429 and 429 not in answers[:-1], answers

        # Pages and APIs answer from every process; one render worker serves them all.
        admin = {"Authorization": f"Bearer {token}"}
        for _ in range(6):
            with httpx.Client(base_url=base, headers=admin) as api:
                assert api.get("/api/v1/filters").status_code == 200
                workers = api.get("/api/v1/workers").json()["workers"]
                assert [(w["pid"], w["state"]) for w in workers] == [(server.pid, "alive")]

        # A signed-in browser's session holds whichever process answers (after the short wait
        # the guesses earned, the right password signs in).
        def signed_in() -> httpx.Cookies | None:
            """The session's cookies once the right password signs in; None while throttled."""
            with httpx.Client(base_url=base) as browser:
                form = browser.get("/login")
                answer = browser.post(
                    "/login",
                    data={"name": "ada", "password": PASSWORD, "csrf_token": csrf_from(form.text)},
                )
                if answer.status_code == 303:
                    assert browser.cookies, "signed in without a session cookie"
                    return browser.cookies
            assert answer.status_code == 429, answer.text
            return None

        cookies = wait_for(signed_in, "the right password to sign in", seconds=60, every=1)
        for _ in range(4):
            with httpx.Client(base_url=base, cookies=cookies) as browser:
                page = browser.get("/admin/workers")
                assert page.status_code == 200 and 'data-state="alive"' in page.text
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=120)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, output
    assert "2 web processes" in output and "Traceback" not in output, output
