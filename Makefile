# The two commands of the README: `make run` and `make test`.
# Both create .venv and install the package on first use (no global installs).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
INDEX ?= indexes/default
HOST ?= 127.0.0.1
PORT ?= 8000
QUERY ?= Venezuela prisoner releases

.PHONY: install run index test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: the CPU build on these machines' disk (an unpinned
# torch pulls a multi-GB CUDA build).
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

index: install
	$(BIN)/searchengine index seeds/ --index $(INDEX)

# Index seeds/ (a no-op when nothing changed), show the example search, then serve.
run: index
	$(BIN)/searchengine search "$(QUERY)" --index $(INDEX) -k 3
	$(BIN)/searchengine serve --index $(INDEX) --host $(HOST) --port $(PORT)

# The types first (the storage contract is checked by mypy), then every test; the 25
# slowest are listed so that CI's time can be watched.
test: install
	$(BIN)/mypy searchengine
	$(PY) -m pytest --durations=25

lint: install
	$(BIN)/ruff check searchengine tests scripts
	$(BIN)/mypy searchengine

clean:
	rm -rf $(VENV) indexes/*/ .pytest_cache
