# Two commands set everything up on a fresh machine:
#   make run   create .venv, install, build + validate the graph, serve it on http://127.0.0.1:5000
#   make test  install the system packages the tests need (apt-get, when run as root),
#              create .venv, install, run the whole test suite
#   make test-fast  create .venv, install, run the fast tier (no Chromium, Java or Virtuoso needed)
#   make lint  ruff (kg, webapp, benchmarks, tests) and mypy (kg); test and test-fast run it first
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000
# the persistent, embedded Oxigraph store (kg.store); memory and sparql are the others
export KG_STORE ?= oxigraph

.PHONY: run test test-fast lint build validate serve bench clean system-deps

# command:Debian package the tests need: java (HermiT, owlready2's reasoner), chromium
# (real-browser tests), npm (YASGUI), curl (the documented endpoint examples),
# virtuoso-t (the SPARQL server of the remote-store tests; -7-bin has no system service),
# rapper (Raptor's RDF parser: the real-client tests parse the dumps and entity RDF/XML with it)
SYSTEM_PACKAGES := java:default-jre-headless chromium:chromium npm:npm curl:curl virtuoso-t:virtuoso-opensource-7-bin \
                   rapper:raptor2-utils

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The SPARQL editor (YASGUI) comes from npm; without npm the page falls back to a plain form.
# Comunica (a JavaScript SPARQL client) comes with it, for the real-client tests only.
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && touch $(NODE_STAMP); \
	else echo "npm not found: the SPARQL page will use a plain form instead of YASGUI"; fi

build: $(STAMP)
	$(BIN)/kg build

validate: build
	$(BIN)/kg validate

serve: $(STAMP) $(NODE_STAMP)
	$(BIN)/kg serve --host $(HOST) --port $(PORT)

run: validate $(NODE_STAMP)
	$(BIN)/kg serve --host $(HOST) --port $(PORT)

system-deps:
	@need=""; for pair in $(SYSTEM_PACKAGES); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || need="$$need $${pair#*:}"; done; \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing system packages:$$need"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; \
	  else echo "missing system packages:$$need (install them with apt-get as root, then rerun)" >&2; exit 1; fi; \
	fi

test: system-deps $(STAMP) $(NODE_STAMP) lint
	$(BIN)/python -m pytest -q --strict-markers

# The fast tier (docs/development.md): the suite without the tests that need Chromium,
# Java or Virtuoso and without the slow ones (markers of tests/conftest.py). No system-deps:
# of the system it uses only git and curl.
test-fast: $(STAMP) lint
	$(BIN)/python -m pytest -q --strict-markers -m "not browser and not java and not virtuoso and not slow"

# The linter and the type checker (settings in pyproject.toml): a finding fails make test.
lint: $(STAMP)
	$(BIN)/ruff check kg webapp benchmarks tests
	$(BIN)/mypy kg

# The engines at 1x-1000x (kg bench: docs/benchmarks.md; about an hour on 2 cores),
# then the web latency report of the shipped graph. Options go through BENCH_ARGS and
# WEB_BENCH_ARGS, e.g. a quick run:
#   make bench BENCH_ARGS="--scales 1 --budget 5 --output -" WEB_BENCH_ARGS="--repeat 20"
BENCH_ARGS ?=
WEB_BENCH_ARGS ?=
bench: build
	$(BIN)/kg bench $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.web $(WEB_BENCH_ARGS)

clean:
	rm -rf dist $(VENV) node_modules
