#!/usr/bin/env bash
# One-shot GPU run of bench/inference.py (issue 13) on a machine whose python3 has torch with
# CUDA, numpy, pillow, scipy, scikit-image, httpx, jinja2, typer, pytest … but not the rest of
# GAN Studio's dependencies: those come as wheels in .whl/ at the repo root (Python 3.12,
# manylinux x86_64; see "Wheels" below), installed into /tmp/site. Nothing is fetched.
#
#     bash bench/gpu_run.sh [more bench/inference.py arguments, e.g. --samples 16 --runs 5]
#
# Prints the GPU, the Python/torch/CUDA versions, then bench/inference.py --device cuda --parts
# 1,2 (both networks, 1024²: 48 samples × 2 versions, 10 web tests each); everything also goes
# to $OUT/bench.txt when $OUT is set. BENCH_DEVICE=cpu runs the same steps on a CPU (to check
# this script where there is no GPU).
#
# Wheels (11 MB; made where pip reaches an index, at the dev venv's versions; the GPU image
# lacks all of these but typing-extensions, carried as pydantic needs >= 4.16, maybe newer
# than the image's):
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
#       fastapi==0.165.0 starlette==1.10.0 pydantic==2.14.4 pydantic-core==2.50.5 \
#       pydantic-settings==2.16.3 python-dotenv==1.2.4 typing-inspection==0.4.5 \
#       annotated-types==0.8.0 typing-extensions==4.16.0 opentelemetry-api==1.45.2 \
#       sqlalchemy==2.1.9 greenlet==3.5.6 alembic==1.20.1 mako==1.4.3 uvicorn==0.54.0 \
#       httptools==0.9.0 python-multipart==0.0.34 itsdangerous==2.2.0 argon2-cffi==25.1.0 \
#       argon2-cffi-bindings==26.2.0 cffi==2.1.1 pycparser==3.12 nh3==0.3.8
# (mediapipe is not needed: without it the app runs and face analysis says it is missing.)
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${BENCH_DEVICE:-cuda}
SITE=${BENCH_SITE:-/tmp/site}
LOG=${OUT:-/tmp}/bench.txt

ls .whl/*.whl >/dev/null  # fail here, clearly, when the wheels were not carried
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --no-index --no-deps --no-compile \
  --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
export PYTHONPATH="$SITE:$PWD"

# Executors start as `python3 -I -m ganstudio.inference.executor_child` with a bare
# environment: no PYTHONPATH reaches them. A .pth file in the interpreter's own site-packages
# puts this checkout on their path, as an editable install would (they import ganstudio and
# models from it, and nothing from .whl/). Removed on exit.
PURELIB=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PTH="$PURELIB/ganstudio-bench.pth"
echo "$PWD" >"$PTH" || { echo "cannot write $PTH: executors would not find ganstudio" >&2; exit 1; }
trap 'rm -f "$PTH"' EXIT

{
  if [ "$DEVICE" = cuda ]; then nvidia-smi -L; fi
  python3 - <<'EOF'
import sys, torch
print("python", sys.version.split()[0], "| torch", torch.__version__, "| CUDA", torch.version.cuda,
      "| available:", torch.cuda.is_available())
EOF
  # What the executors will see: this checkout through the .pth, no PYTHONPATH.
  (cd / && env -u PYTHONPATH python3 -I -c 'import ganstudio.inference.executor_child, models')
  python3 -c 'import ganstudio.app'
  # A stuck run still leaves its output so far: stopped after BENCH_TIMEOUT seconds.
  time timeout -k 10 "${BENCH_TIMEOUT:-420}" \
    python3 bench/inference.py --device "$DEVICE" --parts 1,2 "$@"
} 2>&1 | tee "$LOG"
