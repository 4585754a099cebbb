# Two entry points: `make run` (local stack) and `make test` (the whole suite). Both set up everything first.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test bench fuzz setup clean chromium

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { rm -rf $(VENV); \
	  interpreter=$$(dev/bin/find-python) && echo "Python 3.13: $$interpreter" && $$interpreter -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

run: setup  ## Azurite + CI simulator + local Functions host with the sample instance; Ctrl-C stops all
	$(PY) -m dev.run

chromium:  ## Debian's Chromium for the browser tests (Playwright's own download is unreachable); needs root
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium; }

test: setup chromium  ## ruff and mypy (pyproject.toml), then the whole suite against real Azurite, the simulator and the local host
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

bench: setup  ## prints the benchmark figures recorded in docs/BENCHMARKS.md
	$(PY) -m bench

fuzz: setup  ## the fuzz tests with a large budget (BUDGET examples per operation); figures in docs/BENCHMARKS.md
	$(PY) -m bench.fuzz --budget $(or $(BUDGET),500)

clean:
	rm -rf $(VENV) node_modules .dev .pytest_cache
