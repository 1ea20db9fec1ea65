"""Tags made by two transactions at once: one row, and neither fails."""

from fastapi import FastAPI
from sqlalchemy import func, select

from ganstudio.db.tables import Tag
from ganstudio.services import samples as samples_service


def test_a_tag_another_transaction_made_after_the_look_is_used_not_duplicated(
    app: FastAPI, monkeypatch
) -> None:
    # Two prepare threads analyse two photos: both look, find no "face:one face", and insert.
    with app.state.sessions.begin() as other:
        theirs = samples_service.tags_named(other, ["face:one face"])[0].id
    real = samples_service._tags_by_name
    looks = iter([{}])  # this transaction's first look happened before the other's commit
    monkeypatch.setattr(
        samples_service, "_tags_by_name", lambda s, names: next(looks, None) or real(s, names)
    )
    with app.state.sessions.begin() as session:
        tags = samples_service.tags_named(session, ["face:one face", "face:no face"])
        assert [t.name for t in tags] == ["face:one face", "face:no face"]
        assert tags[0].id == theirs  # the clash was caught and theirs used
    with app.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Tag)) == 2
