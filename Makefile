# ctxstore developer tasks. `make test` is what CI runs (through .ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# No -x: one failure must not hide the others (CI shows them all).
PYTEST_ARGS ?= -q
LINT_PACKAGES := ctxstore

.PHONY: venv demo test lint bench faults soak browser compose-tool services-up \
	services-down services-status clean

## venv: create .venv and install the project with its test extras (again only when
## pyproject.toml is newer than the stamp file)
venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -e '.[test]'
	@touch $(STAMP)

## demo: the CLI demo (embedded SQLite, no servers needed)
demo: venv
	$(VENV)/bin/ctxstore demo

## browser: Debian's chromium for the browser tests, when /usr/bin/chromium is missing
## (best effort: a failure is reported and ignored)
browser:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
	else echo "browser: not root and no sudo; skipping chromium install"; exit 0; fi; \
	( $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium ) \
	  || echo "browser: could not install chromium; browser tests may skip or fail"

## compose-tool: Debian's docker-compose, which validates docker-compose.yml without a Docker
## daemon (tests/test_compose.py), when it is missing (best effort, as `browser`)
compose-tool:
	@if command -v docker-compose >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
	else echo "compose-tool: not root and no sudo; skipping docker-compose install"; exit 0; fi; \
	( $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y \
	  docker-compose ) || echo "compose-tool: could not install docker-compose; tests/test_compose.py will fail"

## test: start PostgreSQL / NATS where they do not answer, run pytest with their URLs
## exported, stop what was started (always), exit with pytest's status. The project's
## bytecode is compiled first: the tests start hundreds of ctxstore processes, and where
## PYTHONDONTWRITEBYTECODE is set (as on our development machines) each one compiled every
## module it imports again, 0.3-0.45 s of CPU a process
test: venv browser compose-tool
	@set -e; trap '$(PY) -m devtools.services down' EXIT; trap 'exit 130' INT TERM; \
	$(PY) -m compileall -q -j 0 domain application projections infrastructure devtools bench; \
	$(PY) -m devtools.services up; \
	set -a; . var/services.env; set +a; \
	$(PY) -m pytest $(PYTEST_ARGS)

services-up: venv
	$(PY) -m devtools.services up

services-down: venv
	$(PY) -m devtools.services down

services-status: venv
	$(PY) -m devtools.services status

## lint: ruff over the repository, mypy over the packages and the benchmarks
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(LINT_PACKAGES)
	$(VENV)/bin/mypy --explicit-package-bases bench

## bench: every bench/*.py with the venv's python (each prints JSON figures)
bench: venv
	@set -e; for f in bench/*.py; do \
	  [ -e "$$f" ] || continue; \
	  case "$$f" in bench/common.py|bench/ab_options.py) continue;; \
	    bench/restore_ab.py|bench/fork_instructions.py) \
	      echo "== $$f: compares two checkouts (--against), run it by hand" >&2; continue;; esac; \
	  echo "== $$f" >&2; \
	  $(PY) "$$f"; \
	done

## faults: the fault suite at full size: 100,000 real-trace events over a 3-node JetStream
## cluster into PostgreSQL while workers, PostgreSQL, a NATS node and the network fail (it
## starts its own servers; prints JSON; FAULTS_ARGS="--events 20000" for a smaller run)
faults: venv
	$(PY) -m devtools.faults $(FAULTS_ARGS)

## soak: the whole stack (serve, two ingest workers, project) for 30 minutes at a steady rate,
## one JSON line a minute, a JSON summary whose checks set the exit status (not part of `test`;
## SOAK_ARGS="--minutes 3 --rate 30" for a short try; `python -m devtools.soak -h` lists more)
SOAK_ARGS ?=
soak: venv
	$(PY) -m devtools.soak $(SOAK_ARGS)

## clean: stop services started by `up`, remove caches and build output (keeps .venv)
clean:
	@if [ -f var/services.json ] && [ -x $(PY) ]; then $(PY) -m devtools.services down; fi
	rm -rf var build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis \
	  test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
