# Two commands do all the set-up: `make demo` (the bot, offline, against polysim) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.yaml

.PHONY: install test demo run healthcheck shutdown status live-view clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/python run.py --config $(CONFIG) --sim

run: install
	$(BIN)/python run.py --config $(CONFIG)

healthcheck: install
	$(BIN)/python run.py --config $(CONFIG) --healthcheck

shutdown: install
	$(BIN)/python run.py --config $(CONFIG) --shutdown

status: install
	$(BIN)/python run.py --config $(CONFIG) --status

live-view: install
	$(BIN)/python -m polycopy.ops.live_view --config $(CONFIG)

clean:
	rm -rf $(VENV) state .pytest_cache
