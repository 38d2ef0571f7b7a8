# Two commands on a fresh machine: `make run` (install + run the bot) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

.PHONY: install run test lint bench
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/gobot local

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_store.py
	$(PY) benchmarks/bench_slack.py
	$(PY) benchmarks/bench_reminders.py
	$(PY) benchmarks/bench_replicas.py
	$(PY) benchmarks/bench_hostile.py
