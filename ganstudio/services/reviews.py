"""Comments and picks on a comparison: feedback on the whole page, a row, or one cell."""

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from ganstudio.db.tables import (
    Comment,
    Comparison,
    ComparisonSample,
    ComparisonVersion,
    Pick,
    Sample,
    User,
)
from ganstudio.roles import Role
from ganstudio.services import audit
from ganstudio.services.errors import InvalidInputError, NotFoundError, PermissionDeniedError

MAX_COMMENT = 5000


def _check_place(
    session: Session, *, comparison: Comparison, sample_id: int | None, version_id: int | None
) -> None:
    if version_id is not None and sample_id is None:
        raise InvalidInputError("A comment on a version needs its sample too (a cell).")
    if sample_id is not None and session.get(ComparisonSample, (comparison.id, sample_id)) is None:
        raise InvalidInputError(
            f"Sample {sample_id} is not a row of this comparison; comment on one of its rows."
        )
    if (
        version_id is not None
        and session.get(ComparisonVersion, (comparison.id, version_id)) is None
    ):
        raise InvalidInputError(
            f"Version {version_id} is not a column of this comparison; pick one of its columns."
        )


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidInputError("The comment is empty; write something first.")
    if len(body) > MAX_COMMENT:
        raise InvalidInputError(
            f"The comment is {len(body)} characters; keep it under {MAX_COMMENT}."
        )
    return body


def add_comment(
    session: Session,
    *,
    comparison: Comparison,
    body: str,
    author: User,
    sample_id: int | None = None,
    version_id: int | None = None,
) -> Comment:
    """Comment on the comparison, a row (sample) or a cell (sample + version)."""
    _check_place(session, comparison=comparison, sample_id=sample_id, version_id=version_id)
    comment = Comment(
        comparison_id=comparison.id,
        sample_id=sample_id,
        version_id=version_id,
        body=_clean_body(body),
        author_id=author.id,
    )
    session.add(comment)
    session.flush()
    audit.record(
        session,
        actor=author,
        action="comment.add",
        subject_type="comparison",
        subject_id=comparison.id,
        comment=comment.id,
        filter_id=comparison.filter_id,
    )
    return comment


def get_comment(session: Session, *, comment_id: int) -> Comment:
    comment = session.scalar(
        select(Comment).options(joinedload(Comment.author)).where(Comment.id == comment_id)
    )
    if comment is None:
        raise NotFoundError(f"No comment {comment_id}; it may have been deleted.")
    return comment


def _own(comment: Comment, user: User) -> None:
    if comment.author_id != user.id and not user.role.allows(Role.ADMIN):
        raise PermissionDeniedError("You can edit and delete only your own comments.")


def edit_comment(session: Session, *, comment: Comment, body: str, user: User) -> Comment:
    _own(comment, user)
    comment.body = _clean_body(body)
    audit.record(
        session, actor=user, action="comment.edit", subject_type="comment", subject_id=comment.id
    )
    return comment


def delete_comment(session: Session, *, comment: Comment, user: User) -> None:
    _own(comment, user)
    audit.record(
        session,
        actor=user,
        action="comment.delete",
        subject_type="comment",
        subject_id=comment.id,
        comparison=comment.comparison_id,
    )
    session.delete(comment)


def list_comments(session: Session, *, comparison: Comparison) -> list[Comment]:
    return list(
        session.scalars(
            select(Comment)
            .options(joinedload(Comment.author))
            .where(Comment.comparison_id == comparison.id)
            .order_by(Comment.created_at, Comment.id)
        )
    )


def set_picks(
    session: Session,
    *,
    comparison: Comparison,
    sample_id: int,
    version_ids: list[int],
    reviewer: User,
) -> list[int]:
    """Replace the reviewer's best version(s) on one row (an empty list clears the pick)."""
    _check_place(session, comparison=comparison, sample_id=sample_id, version_id=None)
    for version_id in version_ids:
        _check_place(session, comparison=comparison, sample_id=sample_id, version_id=version_id)
    session.execute(
        delete(Pick).where(
            Pick.comparison_id == comparison.id,
            Pick.sample_id == sample_id,
            Pick.reviewer_id == reviewer.id,
        )
    )
    chosen = list(dict.fromkeys(version_ids))
    for version_id in chosen:
        session.add(
            Pick(
                comparison_id=comparison.id,
                sample_id=sample_id,
                reviewer_id=reviewer.id,
                version_id=version_id,
            )
        )
    audit.record(
        session,
        actor=reviewer,
        action="pick.set",
        subject_type="comparison",
        subject_id=comparison.id,
        sample=sample_id,
        versions=chosen,
    )
    session.flush()
    return chosen


@dataclass(frozen=True)
class PickSummary:
    """Per version: in how many rows someone picked it, out of the rows anyone picked in."""

    preferred: dict[int, int]  # version id → rows where it was picked
    rows_with_picks: int
    mine: dict[int, set[int]]  # sample id → the version ids this reviewer picked
    by_row: dict[int, dict[int, int]]  # sample id → version id → reviewers who picked it

    @property
    def leading(self) -> frozenset[int]:
        """Return the version(s) preferred in the most rows; none before the first pick."""
        most = max(self.preferred.values(), default=0)
        return frozenset(v for v, n in self.preferred.items() if most and n == most)


def summarize_picks(
    session: Session, *, comparison: Comparison, reviewer: User | None
) -> PickSummary:
    rows = session.execute(
        select(Pick.sample_id, Pick.version_id, Pick.reviewer_id).where(
            Pick.comparison_id == comparison.id
        )
    ).all()
    by_row: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    mine: dict[int, set[int]] = defaultdict(set)
    for sample_id, version_id, reviewer_id in rows:
        by_row[sample_id][version_id] += 1
        if reviewer is not None and reviewer_id == reviewer.id:
            mine[sample_id].add(version_id)
    preferred: dict[int, int] = defaultdict(int)
    for counts in by_row.values():
        for version_id in counts:
            preferred[version_id] += 1
    return PickSummary(
        dict(preferred), len(by_row), dict(mine), {k: dict(v) for k, v in by_row.items()}
    )


def toggle_pick(
    session: Session, *, comparison: Comparison, sample_id: int, version_id: int, reviewer: User
) -> PickSummary:
    """Add `version_id` to the reviewer's best picks on a row, or take it out; return the picks."""
    summary = summarize_picks(session, comparison=comparison, reviewer=reviewer)
    mine = set(summary.mine.get(sample_id, set())) ^ {version_id}
    set_picks(
        session,
        comparison=comparison,
        sample_id=sample_id,
        version_ids=sorted(mine),
        reviewer=reviewer,
    )
    return summarize_picks(session, comparison=comparison, reviewer=reviewer)


def review_context(
    session: Session, *, comparison: Comparison, reader: User | None
) -> dict[str, object]:
    """What a grid page shows of the review: picks, comments in place, and the rows they name."""
    comments = list_comments(session, comparison=comparison)
    by_place: dict[tuple[int | None, int | None], list[Comment]] = defaultdict(list)
    for comment in comments:
        by_place[(comment.sample_id, comment.version_id)].append(comment)
    # Comments are listed for every row, not only this page's: name each row by its sample.
    named = {c.sample_id for c in comments if c.sample_id is not None}
    sample_names: dict[int, str] = dict(
        session.execute(select(Sample.id, Sample.filename).where(Sample.id.in_(named))).all()
    )
    return {
        "picks": summarize_picks(session, comparison=comparison, reviewer=reader),
        "comments": comments,
        "comments_at": by_place,
        "sample_names": sample_names,
    }
