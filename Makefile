# The two commands of the README: `make demo` (the default pipeline end to end) and `make test`.
# Both create or update the local virtual environment .venv first; nothing else needs installing by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
CORES ?= all
export PATH := $(BIN):$(PATH)

# detectron2 (the optional human-box backend) is not on PyPI: `make detectron2-env` builds .venv-detectron2 on top
# of .venv with envs/detectron2-venv.sh, from detectron2's git repository at the pinned commit (internet and a C++
# compiler), or from DETECTRON2_SOURCE=<a wheel built from that commit>. Tests that need detectron2 run in that env.
# CI's checkout has a folder of test wheels beside it (a stand-in for the network there, not something the project
# depends on): `make test` builds the env from the detectron2 wheel in it whenever that wheel exists.
D2_VENV ?= .venv-detectron2
D2_STAMP := $(D2_VENV)/.installed
TEST_WHEELS ?= $(dir $(CURDIR))shared/wheels
DETECTRON2_WHEEL := $(firstword $(wildcard $(TEST_WHEELS)/detectron2-*.whl))
DETECTRON2_SOURCE ?= $(DETECTRON2_WHEEL)

.PHONY: venv detectron2-env demo test lint format bench clean unlock

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

detectron2-env: $(D2_STAMP)

$(D2_STAMP): $(STAMP) envs/detectron2-venv.sh $(DETECTRON2_WHEEL)
	bash envs/detectron2-venv.sh $(VENV) $(D2_VENV) $(DETECTRON2_SOURCE)
	touch $(D2_STAMP)

demo: venv
	$(BIN)/snakemake --cores $(CORES)

test: venv $(if $(DETECTRON2_WHEEL),detectron2-env)
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
