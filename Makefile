# nimgen: compile environments/ into out/. Every target runs inside the project's virtualenv.
PYTHON ?= python3
VENV   ?= .venv
NIMGEN := $(VENV)/bin/nimgen
STAMP  := $(VENV)/.installed

.PHONY: build check validate plan verify test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	@touch $(STAMP)

build: $(STAMP)            ## render out/<env>/ for every environment
	$(NIMGEN) build

check: $(STAMP)            ## fail when out/ differs from a fresh build
	$(NIMGEN) check

validate: $(STAMP)         ## validate and resolve the inputs, render nothing
	$(NIMGEN) validate

plan: $(STAMP)             ## show what a build would change in out/
	$(NIMGEN) plan

verify: $(STAMP)           ## verify out/ against the schemas (SCHEMAS=DIR: also a folder of CRD schemas)
	$(NIMGEN) verify $(if $(SCHEMAS),--schema-location $(SCHEMAS))

test: $(STAMP)             ## run the test suite
	$(VENV)/bin/python -m pytest -q -n auto

bench: $(STAMP)            ## time builds of a thousand generated workloads (cold, warm, one change)
	$(VENV)/bin/python tools/bench.py

clean:
	rm -rf .nimgen $(VENV)
