# The two quick-start commands: `make run` (set up, then the default backtest) and `make test` (set up, then the suite).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint setup lock clean browser faketime

$(STAMP): requirements.txt
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) on PATH (or run: make PY=/path/to/python3.11 ...)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/python main.py backtest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true
	$(BIN)/mypy .

# The report test opens the HTML report in headless Chromium (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the report test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "could not install chromium: the report test will say so"; }

# The paper trader's process test moves the wall clock with Debian's libfaketime; without it that test fails.
faketime:
	@command -v faketime >/dev/null 2>&1 || { echo "installing Debian's faketime for the paper process test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null) || echo "could not install faketime: the faked-clock test will say so"; }

test: $(STAMP) browser faketime
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/python -m pytest

lock:
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e' > requirements.txt

clean:
	rm -rf $(VENV) .cutcycle
