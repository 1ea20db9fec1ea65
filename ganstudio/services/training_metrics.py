"""Training metrics: the numbers a push carries (step, losses, FID …), checked in one place.

Accepted JSON (documented on the push form and in the API):
- a flat object of name → number: `{"step": 120000, "fid": 31.2, "loss_g": 0.81}`;
- or the common nested form `{"step": 120000, "metrics": {"fid": 31.2, …}}`: the inner object's
  entries join the outer ones (a name given in both is refused).
Values are finite numbers (not true/false, null, strings or NaN/Infinity); at most `MAX_METRICS`
names of at most `MAX_NAME` characters. Stored as given: integers stay integers.
"""

import json
import math
from typing import Any

from ganstudio.services.agreement import direction
from ganstudio.services.errors import InvalidInputError

MAX_METRICS = 100
MAX_NAME = 64
MAX_JSON_CHARS = 20_000
STEP = "step"  # the metric that places a version on the chart's training-step axis
# Names that say how far training got, not how good the result is: shown on the version page,
# the step is the chart's x-axis option, but none is a quality metric (no better-direction, not
# charted as a metric, not in the leaderboard's agreement table).
PROGRESS = frozenset(
    {"step", "steps", "global_step", "epoch", "epochs", "iter", "iters", "iteration",
     "iterations", "kimg"}
)  # fmt: skip
EXAMPLE = '{"step": 120000, "fid": 31.2, "loss_g": 0.81}'
NESTED_KEY = "metrics"

Metrics = dict[str, int | float]


def _refuse(problem: str) -> InvalidInputError:
    return InvalidInputError(
        f"The training metrics {problem}. Send a JSON object of name → number, e.g. {EXAMPLE} "
        f'(or {{"step": 120000, "metrics": {{"fid": 31.2}}}}), or leave the field empty.'
    )


def parse_metrics(text: str | None) -> Metrics:
    """Return the metrics a push sends as JSON text ({} when empty); refuse anything else."""
    if text is None or not text.strip():
        return {}
    if len(text) > MAX_JSON_CHARS:
        raise _refuse(f"are {len(text):,} characters long; keep them under {MAX_JSON_CHARS:,}")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise _refuse(f"are not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # NaN / Infinity literals
        raise _refuse(str(exc)) from None
    except RecursionError:
        raise _refuse("are nested too deeply") from None
    if not isinstance(value, dict):
        raise _refuse(f"must be a JSON object, not {_kind(value)}")
    return check_metrics(value)


def check_metrics(value: dict[str, Any]) -> Metrics:
    """Flatten the nested form and check every name and value."""
    flat = dict(value)
    inner = flat.get(NESTED_KEY)
    if isinstance(inner, dict):
        del flat[NESTED_KEY]
        both = sorted(set(flat) & set(inner))
        if both:
            raise _refuse(f"give '{both[0][:MAX_NAME]}' both outside and inside \"metrics\"")
        flat.update(inner)
    if len(flat) > MAX_METRICS:
        raise _refuse(f"have {len(flat)} names; send at most {MAX_METRICS}")
    metrics: Metrics = {}
    for raw_name, number in flat.items():
        name = raw_name.strip()
        if not name or not name.isprintable():
            raise _refuse(f"have an empty or unprintable name ({raw_name[:MAX_NAME]!r})")
        if len(name) > MAX_NAME:
            raise _refuse(f"have a name longer than {MAX_NAME} characters ('{name[:MAX_NAME]}…')")
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise _refuse(f"give '{name}' {_kind(number)}; every value must be a number")
        if (isinstance(number, int) and abs(number) >= 2**63) or not math.isfinite(number):
            raise _refuse(f"give '{name}' a value that is not a finite number")
        metrics[name] = number
    return metrics


def is_progress(name: str) -> bool:
    """Whether `name` is training progress (the step, the epoch …) rather than a quality metric."""
    return name.strip().lower() in PROGRESS


def ordered(metrics: Metrics) -> list[tuple[str, int | float]]:
    """Return the metrics for a table: the step first, then by name."""
    return sorted(metrics.items(), key=lambda item: (item[0] != STEP, item[0].lower()))


def table_rows(metrics: Metrics) -> list[tuple[str, int | float, str]]:
    """Return (name, value, which way is better) for a version page's table, the step first."""
    return [
        (name, value, "training progress" if is_progress(name) else direction(name).words)
        for name, value in ordered(metrics)
    ]


def format_value(value: float) -> str:
    """Return a metric's value for people: 120,000 · 31.2 · 0.8123 · 2.5e-05."""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    if abs(value) >= 1e-3:
        return f"{value:.4g}"
    return f"{value:.2e}"


def _no_constant(name: str) -> float:
    raise ValueError(f"contain {name}, which is not a finite number")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
