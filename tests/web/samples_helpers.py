"""Helpers for the sample library tests: upload through the API, count what is stored."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ganstudio.db.tables import Sample
from tests.factories import bearer


def upload(client: TestClient, token: str, files: list[tuple[str, bytes]], **fields: str) -> dict:
    """POST files to /api/v1/samples; return the JSON (asserting a 200)."""
    response = client.post(
        "/api/v1/samples",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        data=fields,
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    return response.json()


def stored(app: FastAPI) -> tuple[int, int]:
    """Return (sample rows, blobs on disk)."""
    with app.state.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(Sample))
    return rows, len(list(app.state.blobs.iter_blobs()))


def reasons(result: dict) -> dict[str, str]:
    return {r["filename"]: r["reason"] for r in result["rejected"]}
