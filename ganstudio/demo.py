"""Demo content: one account per role (credentials kept in the data dir), seeded idempotently."""

import json
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ganstudio.config import Settings
from ganstudio.db.tables import User
from ganstudio.roles import Role
from ganstudio.services import users as users_service

CREDENTIALS_FILE = "demo-accounts.json"


def read_demo_credentials(data_dir: Path) -> list[dict[str, str]]:
    """Return the demo accounts' names, roles and passwords, if demo content was seeded."""
    path = data_dir / CREDENTIALS_FILE
    if not path.exists():
        return []
    return json.loads(path.read_text())


def seed_demo(session: Session, settings: Settings) -> list[dict[str, str]]:
    """Seed every kind of demo content; return the demo accounts' credentials."""
    return seed_demo_accounts(session, settings.resolved_data_dir)


def seed_demo_accounts(session: Session, data_dir: Path) -> list[dict[str, str]]:
    """Create the demo accounts that are missing (one per role, named after it); idempotent."""
    known = {entry["name"]: entry for entry in read_demo_credentials(data_dir)}
    accounts = []
    for role in Role:
        name = f"demo-{role.value}"
        existing = session.scalar(select(User).where(User.name == name))
        if existing is not None and name in known:
            accounts.append(known[name])
            continue
        if existing is None:
            _user, password = users_service.create_user(session, name=name, role=role, actor=None)
        else:  # the credentials file was lost: give the account a new password
            password = users_service.generate_password()
            users_service.update_user(session, user=existing, actor=None, password=password)
        accounts.append({"name": name, "role": role.value, "password": password})
    path = data_dir / CREDENTIALS_FILE
    path.touch(mode=0o600)
    os.chmod(path, 0o600)
    path.write_text(json.dumps(accounts, indent=2))
    return accounts
