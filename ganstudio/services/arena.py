"""Blind arena: serve the pair a vote teaches most from, record votes, rank versions.

A pair is one sample and two versions' renders of it, sides random, names hidden until the
vote. The next pair has the fewest votes between its versions, then the widest intervals
(`ranking.next_pair`); a voter judges a (sample, version pair) once.

A pair whose two sides leave nothing to choose is never served, and a vote on one is refused:
a face filter's render of a photo where no face was found (its output is the input, unchanged),
or two renders whose outputs are the same bytes. Such a vote would only add noise to the ranking.
"""

import math
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from ganstudio.db.base import utcnow
from ganstudio.db.tables import ArenaPair, Filter, Render, Sample, User, Version
from ganstudio.inference.render_spec import NO_FACE
from ganstudio.services import audit, ranking
from ganstudio.services import precision as precision_service
from ganstudio.services import renders as renders_service
from ganstudio.services import samples as samples_service
from ganstudio.services import versions as versions_service
from ganstudio.services.errors import ConflictError, InvalidInputError, NotFoundError
from ganstudio.text import plural
from ganstudio.vocabulary import RenderState, VersionStatus, VoteOutcome

BOOTSTRAP_ROUNDS = 200
# The rule a ranking must meet before it is shown as a ranking: every version in it has taken
# part in at least this many votes. Below it a 95% interval spans hundreds of points (one vote
# moves a score by ~100), so the order says little; the page says how many votes are missing.
MIN_VOTES_PER_VERSION = 10


@dataclass(frozen=True)
class ArenaScope:
    """Which versions and samples an arena draws from (empty: all non-archived ones)."""

    version_ids: tuple[int, ...] = ()
    sample_set_id: int | None = None
    tags: tuple[str, ...] = ()


def parse_scope(
    session: Session,
    *,
    filter_: Filter,
    versions: str | None = None,
    sample_set_id: int | None = None,
    tags: list[str] | None = None,
) -> ArenaScope:
    """Return the scope that a request's `versions` (refs), `set` and `tag` parameters name."""
    version_ids: tuple[int, ...] = ()
    if versions:
        chosen = versions_service.choose_versions(
            session, filter_=filter_, refs=versions, count=versions_service.ARENA
        )
        version_ids = tuple(v.id for v in chosen)
    tags = [t for t in (tags or []) if t.strip()]  # a form sends "" for "any"
    return ArenaScope(
        version_ids=version_ids,
        sample_set_id=sample_set_id,
        tags=tuple(samples_service.tag_filter(tags)) if tags else (),
    )


@dataclass(frozen=True)
class ServedPair:
    pair: ArenaPair
    sample: Sample
    left: Render
    right: Render


# Why a pair leaves nothing to choose (see `nothing_to_choose`).
SKIP_NO_FACE = "no_face"
SKIP_IDENTICAL = "identical"
NOTHING_TO_CHOOSE = {
    SKIP_NO_FACE: "Both sides are the unchanged photo (no face found in this sample, and this "
    "face filter converts only faces): there is nothing to choose, and the vote is not counted. "
    "Take the next pair.",
    SKIP_IDENTICAL: "Both sides are the same image, byte for byte: there is nothing to choose, "
    "and the vote is not counted. Take the next pair.",
}


def nothing_to_choose(left: Render, right: Render) -> str | None:
    """Return why a voter cannot choose between two renders (SKIP_*), or None when they can."""
    if left.note == NO_FACE or right.note == NO_FACE:
        return SKIP_NO_FACE
    if left.output_sha256 is not None and left.output_sha256 == right.output_sha256:
        return SKIP_IDENTICAL
    return None


@dataclass(frozen=True)
class NoPairLeft:
    """No pair to serve this voter; how many unjudged pairs were skipped, and why."""

    no_face: int = 0
    identical: int = 0

    @property
    def message(self) -> str:
        if not self.no_face and not self.identical:
            return (
                "No pair is left for you: you have judged every pair with renders (or fewer than "
                "two versions have rendered samples). Make a comparison to render more."
            )
        reasons = []
        if self.no_face:
            reasons.append(
                f"{plural(self.no_face, 'pair')} because no face was found in the sample (this "
                "face filter's render is then the unchanged photo, the same on both sides)"
            )
        if self.identical:
            reasons.append(f"{plural(self.identical, 'pair')} because both renders are identical")
        more = "add samples with faces and " if self.no_face else ""
        return (
            "No pair is left for you, and some were skipped because there is nothing to choose "
            f"between their sides: {' and '.join(reasons)}. You have judged every other pair. "
            f"To vote more, {more}make a comparison to render more pairs."
        )


def arena_versions(session: Session, *, filter_: Filter, scope: ArenaScope) -> list[Version]:
    query = select(Version).where(
        Version.filter_id == filter_.id, Version.status != VersionStatus.ARCHIVED
    )
    if scope.version_ids:
        query = query.where(Version.id.in_(scope.version_ids))
    return list(session.scalars(query.order_by(Version.id)))


def count_arena_versions(session: Session, *, filter_: Filter) -> int:
    """Return how many versions the filter's arena can pair (it needs two)."""
    return len(arena_versions(session, filter_=filter_, scope=ArenaScope()))


def _scope_samples(session: Session, scope: ArenaScope) -> list[Sample]:
    sample_set = None
    if scope.sample_set_id is not None:
        from ganstudio.services import sample_sets as sets_service

        sample_set = sets_service.get_set(session, set_id=scope.sample_set_id)
    query = samples_service.SampleQuery(tags=scope.tags, sample_set=sample_set)
    samples, _ = samples_service.list_samples(session, query=query, per_page=100_000)
    return samples


def rendered_cells(
    session: Session, *, filter_: Filter, versions: list[Version], samples: list[Sample]
) -> dict[int, dict[int, Render]]:
    """Return sample id → version id → done render, under the filter's current settings (each
    version in the precision it may use)."""
    by_version = precision_service.render_settings_by_version(
        session, filter_=filter_, versions=versions
    )
    wanted: dict[str, tuple[int, int]] = {}
    for sample in samples:
        for version in versions:
            key = renders_service.version_render_key(
                version=version,
                input_sha256=sample.sha256,
                mask_sha256=sample.mask_sha256,
                settings=by_version[version.id],
            )
            wanted[key] = (sample.id, version.id)
    cells: dict[int, dict[int, Render]] = defaultdict(dict)
    keys = list(wanted)
    for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
        for render in session.scalars(
            select(Render).where(
                Render.render_key.in_(keys[start : start + 500]), Render.state == RenderState.DONE
            )
        ):
            sample_id, version_id = wanted[render.render_key]
            cells[sample_id][version_id] = render
    return cells


def votes_of(
    session: Session, *, filter_: Filter, version_ids: list[int], sample_ids: set[int] | None = None
) -> list[ArenaPair]:
    """Return the filter's voted pairs between these versions (and samples, when given).

    A vote on a pair with nothing to choose (cast before the arena refused them) does not
    count: both sides were the same picture, so it says nothing about the versions."""
    query = select(ArenaPair).where(
        ArenaPair.filter_id == filter_.id,
        ArenaPair.voted_at.is_not(None),
        ArenaPair.left_version_id.in_(version_ids),
        ArenaPair.right_version_id.in_(version_ids),
    )
    pairs = list(session.scalars(query))
    if sample_ids is not None:
        pairs = [p for p in pairs if p.sample_id in sample_ids]
    render_ids = {r for p in pairs for r in (p.left_render_id, p.right_render_id)}
    only = load_only(Render.id, Render.note, Render.output_sha256)  # what the rule reads
    found = session.scalars(select(Render).options(only).where(Render.id.in_(render_ids)))
    renders = {r.id: r for r in found}
    return [
        p
        for p in pairs
        if nothing_to_choose(renders[p.left_render_id], renders[p.right_render_id]) is None
    ]


def _as_votes(pairs: list[ArenaPair]) -> list[ranking.Vote]:
    return [
        ranking.Vote(p.left_version_id, p.right_version_id, p.outcome.value)
        for p in pairs
        if p.outcome is not None  # voted pairs only; a served, unvoted one carries no result
    ]


def _unordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def next_pair(
    session: Session,
    *,
    filter_: Filter,
    voter: User,
    scope: ArenaScope,
    rng: random.Random | None = None,
) -> ServedPair | NoPairLeft:
    """Serve the pair a vote teaches most from, or NoPairLeft when this voter has judged every
    pair there is something to choose in (it counts the pairs skipped for having nothing)."""
    rng = rng or random.Random()  # noqa: S311 - sides and samples, not secrets
    versions = arena_versions(session, filter_=filter_, scope=scope)
    samples = {s.id: s for s in _scope_samples(session, scope)}
    cells = rendered_cells(
        session, filter_=filter_, versions=versions, samples=list(samples.values())
    )
    ids = [v.id for v in versions]
    pairs = votes_of(session, filter_=filter_, version_ids=ids, sample_ids=set(samples))
    judged = {
        (p.sample_id, *_unordered(p.left_version_id, p.right_version_id))
        for p in pairs
        if p.voter_id == voter.id
    }
    open_samples: dict[tuple[int, int], list[int]] = defaultdict(list)
    skipped: dict[str, int] = defaultdict(int)
    for sample_id, by_version in cells.items():
        rendered = sorted(by_version)
        for i, a in enumerate(rendered):
            for b in rendered[i + 1 :]:
                if (sample_id, a, b) in judged:
                    continue
                reason = nothing_to_choose(by_version[a], by_version[b])
                if reason is not None:
                    skipped[reason] += 1
                else:
                    open_samples[(a, b)].append(sample_id)
    no_pair = NoPairLeft(no_face=skipped[SKIP_NO_FACE], identical=skipped[SKIP_IDENTICAL])
    if not open_samples:
        return no_pair
    all_pairs = {_unordered(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]}
    board = ranking.leaderboard(ids, _as_votes(pairs), bootstrap=60, seed=len(pairs))
    intervals = {s.version_id: (s.lower, s.upper) for s in board.standings}
    choice = ranking.next_pair(
        ids,
        _as_votes(pairs),
        already_judged=all_pairs - set(open_samples),
        rng=np.random.default_rng(rng.randrange(2**32)),
        intervals=intervals,
    )
    if choice is None:
        return no_pair
    left_id, right_id = choice
    votes_per_sample: dict[int, int] = defaultdict(int)
    for p in pairs:
        if _unordered(p.left_version_id, p.right_version_id) == _unordered(left_id, right_id):
            votes_per_sample[p.sample_id] += 1
    candidates = open_samples[_unordered(left_id, right_id)]
    fewest = min(votes_per_sample[s] for s in candidates)
    sample_id = rng.choice([s for s in candidates if votes_per_sample[s] == fewest])
    pair = ArenaPair(
        token=secrets.token_urlsafe(16),
        filter_id=filter_.id,
        voter_id=voter.id,
        sample_id=sample_id,
        left_version_id=left_id,
        right_version_id=right_id,
        left_render_id=cells[sample_id][left_id].id,
        right_render_id=cells[sample_id][right_id].id,
    )
    session.add(pair)
    session.flush()
    return ServedPair(
        pair, samples[sample_id], cells[sample_id][left_id], cells[sample_id][right_id]
    )


def served_pair(session: Session, *, token: str, voter: User) -> ArenaPair:
    """Return the pair served to `voter` under `token`; anyone else's pair is not found."""
    pair = session.scalar(select(ArenaPair).where(ArenaPair.token == token))
    if pair is None or pair.voter_id != voter.id:
        raise NotFoundError(
            "That pair was not served to you (unknown or someone else's pair_id). Ask for the "
            "next pair and vote on that one."
        )
    return pair


def pair_image(
    session: Session, *, token: str, side: str, voter: User, thumbnail: bool = False
) -> str:
    """Return the blob sha256 of one side of a pair served to `voter` (never shown to them)."""
    pair = served_pair(session, token=token, voter=voter)
    render_id = {"left": pair.left_render_id, "right": pair.right_render_id}.get(side)
    if render_id is None:
        raise InvalidInputError(f"'{side[:20]}' is not a side of a pair; ask for left or right.")
    render = session.get(Render, render_id)
    sha256 = (
        None if render is None else (render.thumb_sha256 if thumbnail else render.output_sha256)
    )
    if sha256 is None:
        raise NotFoundError("This pair's render is gone; ask for the next pair.")
    return sha256


def vote(session: Session, *, token: str, outcome: str, voter: User) -> ArenaPair:
    """Record a vote on a served pair; each pair is voted once, by the voter it was served to."""
    try:
        parsed = VoteOutcome(outcome)
    except ValueError:
        raise InvalidInputError(
            f"'{outcome[:20]}' is not an outcome; vote left, right, tie or both_bad."
        ) from None
    pair = served_pair(session, token=token, voter=voter)
    if pair.voted_at is not None:
        raise ConflictError("You already voted on this pair; ask for the next one.")
    low, high = _unordered(pair.left_version_id, pair.right_version_id)
    twin = session.scalar(
        select(ArenaPair.id).where(
            ArenaPair.voter_id == voter.id,
            ArenaPair.sample_id == pair.sample_id,
            ArenaPair.voted_at.is_not(None),
            ArenaPair.left_version_id.in_((low, high)),
            ArenaPair.right_version_id.in_((low, high)),
        )
    )
    if twin is not None:
        raise ConflictError("You already judged these two versions on this sample.")
    left, right = (
        session.get(Render, pair.left_render_id),
        session.get(Render, pair.right_render_id),
    )
    reason = None if left is None or right is None else nothing_to_choose(left, right)
    if reason is not None:  # served before the arena skipped such pairs, or posted by a script
        raise ConflictError(NOTHING_TO_CHOOSE[reason])
    pair.outcome, pair.voted_at = parsed, utcnow()
    audit.record(
        session,
        actor=voter,
        action="arena.vote",
        subject_type="filter",
        subject_id=pair.filter_id,
        pair=pair.id,
        outcome=parsed.value,
    )
    session.flush()
    return pair


@dataclass(frozen=True)
class RankRow:
    """One standing with what a reader needs to trust it."""

    standing: ranking.Standing
    version: Version
    votes_needed: int  # votes this version still lacks under MIN_VOTES_PER_VERSION
    overlaps_above: bool  # its interval overlaps the one ranked above: not told apart yet


@dataclass(frozen=True)
class LeaderboardView:
    filter: Filter
    versions: dict[int, Version]
    board: ranking.Leaderboard
    min_votes: int = MIN_VOTES_PER_VERSION

    @cached_property
    def rows(self) -> list[RankRow]:
        rows, above = [], None
        for s in self.board.standings:
            overlaps = above is not None and s.upper >= above.lower and above.upper >= s.lower
            needed = max(0, self.min_votes - s.votes)
            rows.append(RankRow(s, self.versions[s.version_id], needed, overlaps))
            above = s
        return rows

    @property
    def votes_needed(self) -> int:
        """The fewest more votes that could meet the rule (each vote counts for two versions)."""
        missing = [row.votes_needed for row in self.rows]
        if len(missing) < 2:
            return 0
        return max(max(missing), math.ceil(sum(missing) / 2))


@dataclass(frozen=True)
class ChartScale:
    """Where a score sits on the leaderboard chart (pixels), and the axis ticks to label it."""

    low: float
    high: float
    width: int
    ticks: tuple[float, ...]

    def x(self, score: float) -> float:
        return round(10 + (score - self.low) / max(self.high - self.low, 1) * (self.width - 20), 1)


def chart_scale(standings: list[ranking.Standing], *, width: int) -> ChartScale:
    """Return a scale that shows every interval, with 3–7 round ticks (e.g. 900, 1000, 1100)."""
    low = min((s.lower for s in standings), default=ranking.BASE_SCORE - 100) - 20
    high = max((s.upper for s in standings), default=ranking.BASE_SCORE + 100) + 20
    span = max(high - low, 1.0)
    step = next(
        (step for step in (10, 20, 25, 50, 100, 200, 250, 500, 1000) if span / step <= 6),
        10 ** math.ceil(math.log10(span / 6)),
    )
    first = math.ceil(low / step) * step
    ticks = tuple(float(t) for t in range(int(first), int(high) + 1, int(step)))
    return ChartScale(low=low, high=high, width=width, ticks=ticks)


def filter_leaderboard(
    session: Session,
    *,
    filter_: Filter,
    tags: tuple[str, ...] = (),
    sample_set_id: int | None = None,
) -> LeaderboardView:
    """Rank the filter's versions from its votes (optionally only votes on tagged samples)."""
    versions = {
        v.id: v for v in session.scalars(select(Version).where(Version.filter_id == filter_.id))
    }
    sample_ids = None
    if tags or sample_set_id is not None:
        scope = ArenaScope(sample_set_id=sample_set_id, tags=tags)
        sample_ids = {s.id for s in _scope_samples(session, scope)}
    pairs = votes_of(session, filter_=filter_, version_ids=list(versions), sample_ids=sample_ids)
    voted_ids = sorted({p.left_version_id for p in pairs} | {p.right_version_id for p in pairs})
    live = [v for v in versions.values() if v.status != VersionStatus.ARCHIVED]
    ids = sorted({*voted_ids, *(v.id for v in live)})
    board = ranking.leaderboard(ids, _as_votes(pairs), bootstrap=BOOTSTRAP_ROUNDS, seed=0)
    return LeaderboardView(filter_, versions, board)
