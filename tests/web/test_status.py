"""The admin status page and /healthz say which sandbox runs pushed networks, as measured."""

from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests.factories import bearer


def test_admins_measure_the_sandbox_and_see_it_on_the_status_page_and_healthz(
    client: TestClient, tokens: dict, signed_in, sandboxed: None
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    measured = client.post("/api/v1/status/selftest", headers=admin)
    assert measured.status_code == 200, measured.text
    sandbox = measured.json()
    assert sandbox["mode"] == "auto" and sandbox["active"] is True
    assert sandbox["landlock_abi"] >= 1 and sandbox["seccomp"] is True
    assert set(sandbox["checks"].values()) == {"denied"}
    assert sandbox["limits"]["file_size_bytes"] == 0

    status = client.get("/api/v1/status", headers=admin).json()
    assert status["sandbox"]["checks"] == sandbox["checks"] and status["worker"] == "off"

    health = client.get("/healthz").json()
    assert health["sandbox"]["active"] is True
    assert health["sandbox"]["summary"].startswith(f"Landlock ABI {sandbox['landlock_abi']}")

    browser, _ = signed_in(Role.ADMIN)
    page = browser.get("/admin/status")
    assert page.status_code == 200
    assert "Sandbox for pushed networks" in page.text and ">active<" in page.text
    assert "write file" in page.text and "denied" in page.text


def test_only_admins_see_the_status(client: TestClient, tokens: dict, signed_in) -> None:
    for role in (Role.VIEWER, Role.QA, Role.DEVELOPER):
        assert client.get("/api/v1/status", headers=bearer(tokens[role])).status_code == 403
        assert (
            client.post("/api/v1/status/selftest", headers=bearer(tokens[role])).status_code == 403
        )
    browser, _ = signed_in(Role.DEVELOPER)
    assert browser.get("/admin/status").status_code == 403
    assert "/admin/status" not in browser.get("/").text  # not in the navigation either


def test_the_status_page_names_the_device_the_worker_really_uses(
    client: TestClient, app, signed_in
) -> None:
    browser, _ = signed_in(Role.ADMIN)
    assert app.state.settings.device == "auto"
    assert "device <code>auto</code>" in browser.get("/admin/status").text  # nothing loaded yet
    app.state.worker.device = "cuda:1"  # what the first loaded network reports (render_pipeline)
    page = browser.get("/admin/status").text
    assert "device <code>cuda:1</code>" in page and 'href="/admin/workers"' in page
