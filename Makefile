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

.PHONY: install install-test run index test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: the CPU build on these machines' disk (an unpinned
# torch pulls a multi-GB CUDA build). Running needs it once per machine, to export
# the model to ONNX; after that no command imports it. The test extras (pytest,
# schemathesis, mypy, ruff, playwright, milvus-lite) are installed by `make test`
# only. Each step prints a line, and another every 20 s while it runs.
STEP := scripts/step

$(VENV)/.installed: pyproject.toml | $(PY)
	@$(STEP) "installing torch 2.13.0 (CPU), needed once to export the model to ONNX" \
		$(PY) -m pip install --quiet torch==2.13.0
	@$(STEP) "installing searchengine and what it runs on" $(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	@$(STEP) "installing the test extras (pytest, schemathesis, mypy, ruff, playwright, milvus-lite)" \
		$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

index: install
	@echo "==> indexing seeds/ into $(INDEX) (the first run on a machine exports the model, ~30 s)"
	$(BIN)/searchengine index seeds/ --index $(INDEX)

# Index seeds/ (a no-op when nothing changed), show the example search, then serve.
run: index
	$(BIN)/searchengine search "$(QUERY)" --index $(INDEX) -k 3
	$(BIN)/searchengine serve --index $(INDEX) --host $(HOST) --port $(PORT)

# The types first (the storage contract is checked by mypy), then every test; the 25
# slowest are listed so that CI's time can be watched.
test: install-test
	@echo "==> type-checking (mypy)"
	$(BIN)/mypy searchengine
	@echo "==> every test (the real model and servers included)"
	$(PY) -m pytest --durations=25

lint: install-test
	$(BIN)/ruff check searchengine tests scripts
	$(BIN)/mypy searchengine

clean:
	rm -rf $(VENV) indexes/*/ .pytest_cache
