# Two commands on a fresh machine: `make run` (install + run the bot) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: venv install run test lint bench
# The first of python3, python3.13, python3.12, python3.11 that is 3.11 or newer makes the venv.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; \
	done)

# A venv made by a Python older than 3.11, or broken, is rebuilt.
venv:
	@if [ -e $(PY) ] && ! $(PY) -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then \
		echo "rebuilding $(VENV): it was made by a Python older than 3.11, or is broken"; \
		rm -rf $(VENV); \
	fi
	@if [ ! -e $(PY) ]; then \
		if [ -z "$(PYTHON)" ]; then \
			echo "gobot needs Python 3.11 or newer: none of python3, python3.13, python3.12, python3.11 is (install one, or run make PYTHON=/path/to/python3.11)"; \
			exit 1; \
		fi; \
		$(PYTHON) -m venv $(VENV) && $(PY) -m pip install --quiet --upgrade pip; \
	fi

# editable_mode=compat: the checkout as a plain path entry (setuptools' default finder prints a
# banner about folders named like the packages at every install)
$(RUN_STAMP): pyproject.toml
	$(PY) -m pip install --quiet --config-settings editable_mode=compat -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml
	$(PY) -m pip install --quiet --config-settings editable_mode=compat -e '.[dev]'
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
	$(PY) benchmarks/bench_ack.py
	$(PY) benchmarks/bench_slack.py
	$(PY) benchmarks/bench_reminders.py
	$(PY) benchmarks/bench_replicas.py
	$(PY) benchmarks/bench_hostile.py
