"""Set up a filter with tiny versions, samples and a set, for comparison and web-test tests."""

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from ganstudio.services import sample_sets as sets_service
from tests import checkpoints as ck
from tests import imagegen
from tests.factories import make_filter, make_sample, make_version


@dataclass
class Bench:
    slug: str
    versions: dict[str, int]  # label → id
    samples: list[int]
    set_id: int


def make_set(app: FastAPI, name: str, sample_ids: list[int]) -> int:
    with app.state.sessions() as session:
        sample_set = sets_service.create_set(session, name=name, actor=None)
        sets_service.add_samples(session, sample_set=sample_set, sample_ids=sample_ids, actor=None)
        session.commit()
        return sample_set.id


def make_bench(
    app: FastAPI,
    tmp_path: Path,
    *,
    labels: tuple[str, ...] = ("v1", "v2"),
    failing: str | None = None,
    filenames: tuple[str, ...] = ("a.png", "b.png", "c.png"),
    size: tuple[int, int] = (48, 36),
) -> Bench:
    """A filter `toon` (input 64) with tiny versions, samples named `filenames`, one set."""
    slug = make_filter(app, name="Toon", input_size=64)
    versions = {}
    for seed, label in enumerate(labels):
        checkpoint = ck.safetensors_file(tmp_path / f"{label}.safetensors", seed)
        versions[label] = make_version(app, filter_slug=slug, label=label, checkpoint=checkpoint)
    if failing:
        checkpoint = ck.torchscript_file(tmp_path / "bad.pt", ck.Raises())
        versions[failing] = make_version(
            app, filter_slug=slug, label=failing, checkpoint=checkpoint
        )
    samples = [
        make_sample(app, imagegen.distinct_png(n, size=size), name)
        for n, name in enumerate(filenames)
    ]
    return Bench(slug, versions, samples, make_set(app, "Faces", samples))
