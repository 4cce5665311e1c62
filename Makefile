# Two commands set everything up on a fresh machine:
#   make run   create .venv, install, build + validate the graph, serve it
#   make test  create .venv, install, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test build validate bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

build: $(STAMP)
	$(BIN)/kg build

validate: build
	$(BIN)/kg validate

run: validate
	$(BIN)/kg stats

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf dist $(VENV)
