"""`pip install .` brings everything GAN Studio imports at run time, and a safe torch."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What ships in the wheel and runs in production (tests, benchmarks and tools are not installed).
RUNTIME_SOURCES = ("ganstudio", "models", "alembic")
FIRST_PARTY = {"ganstudio", "models"}
# Imported at run time but installed by the Makefile with --no-deps (its declared dependencies
# pull jax and an OpenCV build we don't use): module -> the pin the Makefile must install.
MAKEFILE_INSTALLED = {"mediapipe": "mediapipe==0.10.14"}
# mediapipe's declared dependencies we leave out, and why (the rest must be ours).
MEDIAPIPE_NOT_NEEDED = {
    "jax": "not imported by the face detection and face mesh solutions",
    "jaxlib": "not imported by the face detection and face mesh solutions",
    "sounddevice": "audio only",
    "opencv-contrib-python": "opencv-python-headless (a dependency) provides the same cv2",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _canonical(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _imported_modules(source: Path) -> set[str]:
    """Return the top-level names of every absolute import in a file."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_runtime_dependencies_cover_every_runtime_import() -> None:
    declared = {_requirement_name(r) for r in _project()["dependencies"]}
    distributions = packages_distributions()
    missing = {}
    for folder in RUNTIME_SOURCES:
        for source in sorted((REPO / folder).rglob("*.py")):
            outside = FIRST_PARTY | set(sys.stdlib_module_names) | set(MAKEFILE_INSTALLED)
            for module in _imported_modules(source) - outside:
                providers = {_canonical(d) for d in distributions.get(module, [])}
                assert providers, f"{module} (imported by {source}) is not installed at all"
                if not providers & declared:
                    missing.setdefault(module, source.relative_to(REPO))
    assert not missing, (
        "imported at run time but not in [project].dependencies (only in an extra, or "
        f"only there through another package): {missing}"
    )


def test_torch_floor_excludes_releases_where_weights_only_loads_run_code() -> None:
    torch = next(r for r in _project()["dependencies"] if _requirement_name(r) == "torch")
    floor = re.search(r">=\s*([0-9.]+)", torch)
    assert floor, f"torch needs a lower bound: {torch}"
    assert tuple(int(p) for p in floor.group(1).split(".")[:2]) >= (2, 6)  # CVE-2025-32434


def test_dev_extra_pins_the_cpu_torch_on_disk() -> None:
    dev = _project()["optional-dependencies"]["dev"]
    assert "torch==2.13.0" in [r.replace(" ", "") for r in dev]


def test_the_makefile_installs_mediapipe_pinned_without_its_declared_dependencies() -> None:
    makefile = (REPO / "Makefile").read_text()
    for pin in MAKEFILE_INSTALLED.values():
        assert f"MEDIAPIPE := {pin}" in makefile
    assert "pip install --quiet --no-deps $(MEDIAPIPE)" in makefile


def test_what_mediapipe_imports_is_in_our_dependencies() -> None:
    # Its metadata lists what it needs; each is ours, or left out for a reason written above.
    from importlib.metadata import requires

    declared = {_requirement_name(r) for r in _project()["dependencies"]}
    needs = {_requirement_name(r) for r in requires("mediapipe") or [] if "extra ==" not in r}
    left_out = {n for n in needs - declared if n not in MEDIAPIPE_NOT_NEEDED}
    assert not left_out, f"mediapipe needs these and pyproject.toml does not list them: {left_out}"
