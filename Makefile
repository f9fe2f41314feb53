# Two entry points: `make run` (install, then the main job on the demo data) and `make test`.
# Installing is idempotent: the virtual environment is rebuilt only when the package's
# requirements change, so a second `make` starts at once.

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check --quiet
STAMP := $(VENV)/.installed
FUSED_SRC := coat_tf/layers/fused/chord_scores.cc
FUSED_LIB := coat_tf/layers/fused/_chord_scores.so

.PHONY: install run test tune lint format bench docs wheel-check clean

install: $(STAMP) $(FUSED_LIB)

# Order matters: `vamp` (needed by chord-extractor) compiles against numpy and does not
# declare it as a build requirement, so numpy goes in first and vamp is built without
# build isolation (vamp's setup.py imports numpy).
$(STAMP): setup.cfg pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; COAT needs Python 3.11 (chord-extractor requires < 3.12)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade "pip>=24" "setuptools>=68" wheel
	$(PIP) install "numpy>=1.26,<2.5"
	$(PIP) install --no-build-isolation "vamp==1.1.0"
	$(PIP) install -e ".[audio,dev,docs]"
	touch $(STAMP)

# The fused chord attention op (C++, TensorFlow's own compile flags). Optional: without a
# compiler, or when the build fails, one line says so, the install still succeeds and COAT
# uses the split form.
$(FUSED_LIB): $(STAMP) $(FUSED_SRC)
	@$(PY) -m coat_tf.layers.fused.build || true

run: install
	$(PY) -m coat_tf.train $(ARGS)

test: install
	$(PY) -m pytest -q $(ARGS)

# the paper's grid search, resumable: `make tune ARGS="--model gmf --batch-size 1024"`
tune: install
	$(PY) -m tuning.search $(ARGS)

lint: install
	$(VENV)/bin/ruff check coat_tf tests bench tuning
	$(VENV)/bin/ruff format --check coat_tf tests bench tuning

format: install
	$(VENV)/bin/ruff format coat_tf tests bench tuning
	$(VENV)/bin/ruff check --fix coat_tf tests bench tuning

bench: install
	$(PY) -m bench.layers $(ARGS)

# the documentation site into site/; a broken link or a missing API reference fails it
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# build the wheel and the sdist, check them, and run the installed commands (.ci/wheel-check)
wheel-check: install
	PY=$(PY) bash .ci/wheel-check

clean:
	rm -rf $(VENV) build dist site *.egg-info $(FUSED_LIB)
