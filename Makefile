# Two commands on a fresh machine: `make run` (install + run the bot) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: venv install run test lint bench
# A venv made by a Python older than 3.11, or broken, is rebuilt (and python3 itself checked).
venv:
	@if [ -e $(PY) ] && ! $(PY) -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then \
		echo "rebuilding $(VENV): it was made by a Python older than 3.11, or is broken"; \
		rm -rf $(VENV); \
	fi
	@if [ ! -e $(PY) ]; then \
		python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gobot needs Python 3.11 or newer; python3 is " + sys.version.split()[0])' && \
		python3 -m venv $(VENV) && $(PY) -m pip install --quiet --upgrade pip; \
	fi

$(RUN_STAMP): pyproject.toml
	$(PY) -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP) $(RUN_STAMP)

install: venv $(DEV_STAMP)

run: venv $(RUN_STAMP)
	$(VENV)/bin/gobot local

test: venv $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n 4  # four workers on two cores: most of a test's time is waiting

bench: venv $(DEV_STAMP)
	$(PY) benchmarks/bench_store.py
	$(PY) benchmarks/bench_slack.py
	$(PY) benchmarks/bench_reminders.py
	$(PY) benchmarks/bench_replicas.py
	$(PY) benchmarks/bench_hostile.py
