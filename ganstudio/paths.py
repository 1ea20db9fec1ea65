"""Find templates, static files and migrations in a source checkout or an installed wheel."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_bundled"  # where the wheel puts them (pyproject force-include)
_REPO = _PACKAGE.parent  # where they live in a source checkout


def resource_dir(name: str) -> Path:
    """Return the folder `name` (templates, static, alembic) wherever this install keeps it."""
    for candidate in (_BUNDLED / name, _REPO / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(
        f"GAN Studio cannot find its '{name}' folder (looked in {_BUNDLED} and {_REPO}); "
        "reinstall the package."
    )
