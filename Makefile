# The two commands of the README: `make demo` (the default pipeline end to end) and `make test`.
# Both create or update the local virtual environment .venv first; nothing else needs installing by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
CORES ?= all
export PATH := $(BIN):$(PATH)

.PHONY: venv demo test lint format bench clean unlock

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: venv
	$(BIN)/snakemake --cores $(CORES)

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

# After a killed run: release the lock it left (only when no other Snakemake runs here), then `make demo` again.
unlock: venv
	$(BIN)/snakemake --unlock

lint: venv
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint
	$(BIN)/ruff check .

format: venv
	$(BIN)/snakefmt .
	$(BIN)/ruff format scenebias scripts tests bench
	$(BIN)/ruff check --fix .

bench: venv
	$(BIN)/python bench/frames.py

clean:
	rm -rf results/world results/logs results/benchmarks .snakemake
