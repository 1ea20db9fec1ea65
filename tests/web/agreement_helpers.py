"""Seed a version tree with training metrics and blind votes straight into the tables."""

import secrets
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select

from ganstudio.db.base import utcnow
from ganstudio.db.tables import ArenaPair, Render, User, Version
from ganstudio.services import filters as filters_service
from ganstudio.vocabulary import RenderState, VersionStatus, VoteOutcome
from tests import imagegen
from tests.factories import make_sample

# label, parent, branch, training metrics: main v1 → v2 → v3 and eyemask v2 → e1 → e2.
TREE = [
    ("v1", None, "main", {"step": 1000, "fid": 60.0}),
    ("v2", "v1", "main", {"step": 2000, "fid": 45.0}),
    ("e1", "v2", "eyemask", {"step": 2500, "fid": 40.0, "loss_g": 0.9}),
    ("v3", "v2", "main", {"step": 3000, "fid": 42.0}),
    ("e2", "e1", "eyemask", {"step": 3500, "fid": 35.5}),
    ("bare", "v3", "main", {}),
]


def seed_tree(app: FastAPI, rows: list = TREE, name: str = "Tree") -> tuple[str, dict[str, int]]:
    """Insert the versions (no checkpoints: these tests never render); return slug and ids."""
    ids: dict[str, int] = {}
    with app.state.sessions() as session:
        filter_ = filters_service.create_filter(session, name=name, actor=None)
        start = utcnow() - timedelta(days=1)
        for n, (label, parent, branch, metrics) in enumerate(rows):
            version = Version(
                filter_id=filter_.id,
                label=label,
                parent_id=ids[parent] if parent else None,
                branch=branch,
                status=VersionStatus.CANDIDATE,
                checkpoint_sha256=f"{filter_.id:08x}{n + 1:056x}",
                checkpoint_filename="x.safetensors",
                checkpoint_size=1,
                checkpoint_format="safetensors",
                architecture="se-unet",
                config={},
                training_metrics=metrics,
                input_channels=3,
                param_count=1000,
                gflops_512=1.0,
                latency_ms_512=5.0,
                created_at=start + timedelta(minutes=n),
            )
            session.add(version)
            session.flush()
            ids[label] = version.id
        session.commit()
        return filter_.slug, ids


def seed_votes(
    app: FastAPI, slug: str, ids: dict[str, int], votes: list[tuple[str, str, str]]
) -> None:
    """Record blind votes (left label, right label, outcome) on one sample, by one voter."""
    sample_id = make_sample(app, imagegen.distinct_png(7), "votes.png")
    with app.state.sessions() as session:
        filter_ = filters_service.get_filter(session, slug=slug)
        voter_id = session.scalar(select(User.id).order_by(User.id))
        assert voter_id is not None, "make a user first"
        renders = {}
        for label, version_id in ids.items():
            render = Render(
                render_key=secrets.token_hex(32),
                checkpoint_sha256="0" * 64,
                version_id=version_id,
                input_sha256="1" * 64,
                settings={},
                state=RenderState.DONE,
            )
            session.add(render)
            session.flush()
            renders[label] = render.id
        for left, right, outcome in votes:
            session.add(
                ArenaPair(
                    token=secrets.token_hex(16),
                    filter_id=filter_.id,
                    voter_id=voter_id,
                    sample_id=sample_id,
                    left_version_id=ids[left],
                    right_version_id=ids[right],
                    left_render_id=renders[left],
                    right_render_id=renders[right],
                    outcome=VoteOutcome(outcome),
                    voted_at=utcnow(),
                )
            )
        session.commit()
