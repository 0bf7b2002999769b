# The kit's two front-door commands: `make lab` opens the lessons, `make test` runs every test.
# Both create .venv on first use and reinstall only when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.raykit-installed
# Jupyter refuses to run as root (Docker, CI) unless told to.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test test-fast install lint system-deps site

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[test,compare]"
	@bash scripts/drop-slow-imports.sh $(BIN)/python
	@touch $@

install: $(STAMP)

## JupyterLab on the lessons, bound to 127.0.0.1; each lesson starts its own local Ray cluster.
## Without RAY_ADDRESS, Ray runs in its single-host mode: even a plain ray.init() listens on
## 127.0.0.1 only (with RAY_ADDRESS the driver must be reachable from the cluster: left alone).
## The venv's commands come first on PATH, so `!ray status` in a lesson is the kit's Ray.
lab: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(if $(RAY_ADDRESS),,RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0) $(BIN)/jupyter lab --ip=127.0.0.1 --ServerApp.root_dir=notebooks \
		--LabApp.default_url=/lab/tree/00_welcome.ipynb $(ALLOW_ROOT)

## Debian packages the tests use (chromium, redis-server, prometheus); installs them as root.
system-deps:
	@bash scripts/system-deps.sh

## Every test: unit tests, one real browser, and every lesson in small mode, run once with each
## exercise's variants (tests/_lessons.py), two lessons at a time while the unit tests run, then
## the series against clusters named by RAY_ADDRESS, blank exercises (a learner's Run All), in
## two parts side by side.
test: $(STAMP) system-deps
	$(BIN)/python -m pytest

## The tests that start no Ray, no lesson and no browser: under a minute, for a quick check, one
## test module per core (pytest-xdist). A test that starts Ray without its marker fails there,
## naming the marker (tests/conftest.py).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not ray_cluster and not lesson and not browser"

## The course site: static HTML in build/site/html, built offline from the lessons as the suite
## ran them (build/executed/, which `make test` fills; nothing is executed here). Without them it
## stops and says what to run. RAYKIT_SITE_REPO=https://github.com/OWNER/NAME sets the repository
## the Binder and Colab buttons open (default: GitHub Actions' repository, else git's origin).
site: $(STAMP)
	$(BIN)/python site/build_site.py

lint: $(STAMP)
	$(BIN)/ruff check raykit tests scripts site
