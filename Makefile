# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DATA ?= demo-data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint typecheck install clean-demo

# The face detector (ganstudio/faces), installed on its own with --no-deps: its declared
# dependencies pull jax, jaxlib, sounddevice and opencv-contrib-python, none of which face
# detection uses. What it does import is in pyproject.toml's dependencies (opencv-python-headless
# provides the same cv2). The one place this pin lives; tests/test_dependencies.py reads it.
MEDIAPIPE := mediapipe==0.10.14

# One venv for demo and tests; the dev extra pins torch==2.13.0 (CPU) so pip never pulls a CUDA build.
$(BIN)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps $(MEDIAPIPE)
	touch $@

install: $(BIN)/.installed

# `exec`: Ctrl+C reaches the server, not a shell that would die of it (make: "Error 130");
# the server shuts down cleanly and exits 0.
demo: install
	GANSTUDIO_DATA_DIR=$(DEMO_DATA) exec $(BIN)/ganstudio serve --demo --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .

# Settings for mypy live in pyproject.toml ([tool.mypy]: ganstudio/ and models/).
typecheck: install
	$(BIN)/mypy

# Two passes: SQLite, then PostgreSQL (each test process starts a throwaway cluster of its own;
# without the server binaries that pass skips, under CI=true it fails). The PostgreSQL pass leaves
# out tests/models, tests/faces and tests/analysis: network architectures, face detection and
# region maths, which never open a database. Every test that touches one runs in both passes.
PG_SKIP := --ignore=tests/models --ignore=tests/faces --ignore=tests/analysis

test: lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadfile
	$(BIN)/python -m pytest -n 2 --dist loadfile --database=postgresql $(PG_SKIP)

clean-demo:
	rm -rf $(DEMO_DATA)
