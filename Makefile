# Quick start: `make run` (the main job on the bundled example) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The example is mid-migration on purpose: errors are expected, so exit status 1 is not a failure here.
run: $(STAMP)
	$(VENV)/bin/deploycheck check examples/seed-incident || [ $$? -eq 1 ]

test: $(STAMP)
	$(VENV)/bin/python -m pytest

bench: $(STAMP)
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV)
