# `make demo` and `make test` each do all the set-up themselves on a fresh machine
# that has python3 (>= 3.11) and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
comma  := ,
EXTRAS := dev$(if $(GPU),$(comma)gpu)
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: install demo test test-fast lint constraints clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sweeper needs Python >= 3.11; set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

demo: install
	$(BIN)/sweeper validate search_spaces/quickstart.yaml
	$(BIN)/sweeper run search_spaces/quickstart.yaml --name quickstart-$$(date +%Y%m%d-%H%M%S)

test: install lint
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# Pins for docker/Dockerfile: the tested environment, without the development tools, plus the
# PostgreSQL driver the MLflow container needs.
DEV_TOOLS := greenlet|iniconfig|librt|mypy|mypy_extensions|pathspec|playwright|pluggy|pytest|ruff|types-PyYAML
constraints: install
	{ echo '# Versions seen working together (pip freeze of the tested environment, Python 3.11).'; \
	  echo '# Used as pip constraints by docker/Dockerfile; regenerate with: make constraints'; \
	  { $(BIN)/python -m pip freeze --exclude-editable | grep -v -E '^($(DEV_TOOLS))=='; \
	    echo 'psycopg2-binary==2.9.10'; } | LC_ALL=C sort -f; } > docker/constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
