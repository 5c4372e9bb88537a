# Two commands do all the set-up: `make demo` (the bot, offline, against polysim) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.yaml

.PHONY: install sysdeps test demo run healthcheck shutdown status live-view report screens clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# System tools some tests drive: promtool (Debian's prometheus) checks deploy/prometheus/, a headless
# chromium renders the HTML report, tmux captures the console for `make screens`. Installed with
# apt-get when missing and possible (root, apt-get present); never fails the build: the tests that
# need a missing tool skip and say why.
SYSDEPS := promtool:prometheus chromium:chromium tmux:tmux
APT := DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300

sysdeps:
	@missing=""; for t in $(SYSDEPS); do command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
		echo "sysdeps: missing$$missing (not root, or no apt-get): the tests that need them are skipped"; exit 0; fi; \
	echo "sysdeps: installing$$missing"; \
	$(APT) install -y --no-install-recommends $$missing >/dev/null 2>&1 \
		|| { $(APT) update && $(APT) install -y --no-install-recommends $$missing >/dev/null; } \
		|| echo "sysdeps: could not install$$missing: the tests that need them are skipped"

test: sysdeps install
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

# The HTML report of the last `make demo` run (state/sim/); open report.html in a browser.
report: install
	$(BIN)/python -m polycopy.ops.report --db state/sim/polycopy.sqlite --html report.html

# What a person sees: console and live view (tmux captures) and the report (Chromium screenshot)
# of a fresh --sim run, into screens/.
screens: sysdeps install
	$(BIN)/python -m bench.screens --out screens

clean:
	rm -rf $(VENV) state .pytest_cache
