# `make demo` and `make test` each do all the set-up themselves on a fresh machine
# that has python3 (>= 3.11) and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Every package at the version the tests passed with (`make pins` refreshes it).
PINS   := constraints.txt
comma  := ,
EXTRAS := dev$(if $(GPU),$(comma)gpu)
PINS_SUM := $(firstword $(shell cksum $(PINS)))
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))-$(PINS_SUM)

.PHONY: install demo test test-fast lint pins clean

install: $(STAMP)

# New pins rebuild the venv from nothing, so no package outlives the pins that chose it.
# PIP_CONSTRAINT (not --constraint) also reaches the isolated build of sweeper itself.
$(STAMP): pyproject.toml $(PINS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sweeper needs Python >= 3.11; set PYTHON=python3.11")'
	@if [ -d $(VENV) ] && [ ! -e $(VENV)/.pins-$(PINS_SUM) ]; then \
	    echo "$(PINS) is not what $(VENV) was installed from: rebuilding $(VENV)"; rm -rf $(VENV); fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/$(PINS) $(BIN)/python -m pip install --quiet --upgrade pip
	PIP_CONSTRAINT=$(CURDIR)/$(PINS) $(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(VENV)/.pins-$(PINS_SUM) $(STAMP)

demo: install
	$(BIN)/sweeper validate search_spaces/quickstart.yaml
	$(BIN)/sweeper run search_spaces/quickstart.yaml --name quickstart-$$(date +%Y%m%d-%H%M%S)

# Two pytest-xdist workers, a test module at a time each (a module's tests share its sweep;
# not --dist loadgroup: its xdist_group marks do nothing on pytest 9.2, pytest-xdist #1386);
# each worker has its own Ray head. The slowest tests end the output.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --durations=15

test: install lint
	$(PYTEST)

test-fast: install
	$(PYTEST) tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Resolve pyproject.toml's ranges afresh in a new, empty venv (nothing installed steers it)
# and rewrite constraints.txt and docker/constraints.txt; `make test` then rebuilds .venv
# on them and tests them.
pins:
	rm -rf .pins-venv
	$(PYTHON) -m venv .pins-venv
	.pins-venv/bin/python -m pip install --quiet --upgrade pip
	.pins-venv/bin/python tools/pins.py --python .pins-venv/bin/python
	rm -rf .pins-venv

clean:
	rm -rf $(VENV) .pins-venv build *.egg-info .pytest_cache .ruff_cache .mypy_cache
