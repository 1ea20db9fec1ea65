"""One rule for which versions a view shows: refs parsed once, resolved once, one default."""

import hashlib

import pytest
from sqlalchemy.orm import Session

from ganstudio.db.tables import Filter, Version
from ganstudio.services import versions as versions_service
from ganstudio.services.errors import InvalidInputError
from ganstudio.vocabulary import Pipeline, VersionStatus


@pytest.fixture
def session(tmp_path):
    from sqlalchemy import create_engine

    from ganstudio.db.base import Base

    engine = create_engine(f"sqlite:///{tmp_path / 'v.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def add_filter(session: Session, slug: str) -> Filter:
    filter_ = Filter(slug=slug, name=slug.title(), pipeline=Pipeline.FULL, input_size=64)
    session.add(filter_)
    session.flush()
    return filter_


def add_version(session: Session, filter_: Filter, label: str, branch="main", status=None):
    version = Version(
        filter_id=filter_.id,
        label=label,
        branch=branch,
        status=status or VersionStatus.CANDIDATE,
        architecture="se-unet",
        checkpoint_sha256=hashlib.sha256(f"{filter_.slug}/{label}".encode()).hexdigest(),
        checkpoint_filename="net.safetensors",
        checkpoint_size=1,
        checkpoint_format="safetensors",
        config={},
        input_channels=3,
        param_count=1,
        latency_ms_512=1.0,
    )
    session.add(version)
    session.flush()
    return version


def test_refs_are_split_once_in_order_from_repeats_and_commas() -> None:
    assert versions_service.split_refs(["v2, v1", "v3", "v1", " "]) == ["v2", "v1", "v3"]
    assert versions_service.split_refs("4,5") == ["4", "5"]
    assert versions_service.split_refs(None) == []


def test_one_default_rule_production_then_branch_heads_topped_up_to_two(session) -> None:
    toon = add_filter(session, "toon")
    v1 = add_version(session, toon, "v1", status=VersionStatus.PRODUCTION)
    v2 = add_version(session, toon, "v2")
    v3 = add_version(session, toon, "v3")
    eyes = add_version(session, toon, "eyes-1", branch="eyes")
    add_version(session, toon, "old", branch="gone", status=VersionStatus.ARCHIVED)
    assert versions_service.default_versions(session, filter_=toon) == [v1, eyes, v3]
    # One branch and no production version: the head, topped up with the next newest.
    solo = add_filter(session, "solo")
    a = add_version(session, solo, "a")
    b = add_version(session, solo, "b")
    assert versions_service.default_versions(session, filter_=solo) == [b, a]
    assert v2 not in versions_service.default_versions(session, filter_=toon)


def test_choose_versions_resolves_labels_and_ids_and_checks_the_count(session) -> None:
    toon = add_filter(session, "toon")
    other = add_filter(session, "other")
    v1 = add_version(session, toon, "v1")
    v2 = add_version(session, toon, "v2")
    stranger = add_version(session, other, "x")
    comparison = versions_service.COMPARISON
    chosen = versions_service.choose_versions(
        session, filter_=toon, refs=[f"v2,{v1.id}"], count=comparison
    )
    assert chosen == [v2, v1]
    assert versions_service.choose_versions(session, filter_=toon, refs=[], count=comparison) == [
        v2,
        v1,
    ]
    with pytest.raises(InvalidInputError, match="1 was given"):
        versions_service.choose_versions(session, filter_=toon, refs=["v1"], count=comparison)
    with pytest.raises(InvalidInputError, match="0 were given"):
        versions_service.choose_versions(
            session, filter_=toon, refs=[], count=comparison, defaults=False
        )
    with pytest.raises(InvalidInputError, match="'x' is not a version of Toon"):
        versions_service.choose_versions(session, filter_=toon, refs=["x"], count=comparison)
    # Without a filter, ids resolve, and versions of two filters are refused.
    with pytest.raises(InvalidInputError, match="one filter"):
        versions_service.choose_versions(
            session, filter_=None, refs=[v1.id, stranger.id], count=versions_service.WEB_TEST
        )
    assert versions_service.choose_versions(
        session, filter_=None, refs=[str(v1.id)], count=versions_service.WEB_TEST
    ) == [v1]
