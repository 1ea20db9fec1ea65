"""Create rows the way the app does (through services), for tests."""

from fastapi import FastAPI

from ganstudio.db.tables import User
from ganstudio.roles import Role
from ganstudio.services import users as users_service

PASSWORD = "correct horse battery"


def make_user(
    app: FastAPI, *, role: Role = Role.VIEWER, name: str = "someone", password: str = PASSWORD
) -> User:
    with app.state.sessions() as session:
        user, _ = users_service.create_user(
            session, name=name, role=role, password=password, actor=None
        )
        session.commit()
        return user


def make_token(app: FastAPI, *, name: str, label: str = "tests") -> str:
    with app.state.sessions() as session:
        user = users_service.get_user(session, name=name)
        _token, plaintext = users_service.create_token(session, user=user, label=label, actor=None)
        session.commit()
        return plaintext


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
