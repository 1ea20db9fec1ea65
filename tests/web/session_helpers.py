"""Look inside browser sessions: their rows, and what their cookie carries."""

import base64
import json
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ganstudio.app import SESSION_COOKIE
from ganstudio.db.tables import UserSession


def age_sessions(app: FastAPI, *, last_seen_seconds: float = 0, created_seconds: float = 0) -> None:
    """Move every session's last use and sign-in back in time."""
    with app.state.sessions() as db:
        for row in db.scalars(select(UserSession)):
            row.last_seen_at -= timedelta(seconds=last_seen_seconds)
            row.created_at -= timedelta(seconds=created_seconds)
        db.commit()


def cookie_payload(browser: TestClient) -> dict[str, object]:
    """Decode the session cookie as anyone holding it can: base64 JSON before the signature."""
    value = browser.cookies[SESSION_COOKIE]
    encoded = value.split(".")[0]
    return json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
