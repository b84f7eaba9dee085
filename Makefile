# nimgen: compile environments/ into out/. Every target runs inside the project's virtualenv.
PYTHON ?= python3
VENV   ?= .venv
NIMGEN := $(VENV)/bin/nimgen
STAMP  := $(VENV)/.installed
MUTATE := $(VENV)/.installed-mutate

.PHONY: build check typecheck validate plan verify test test-thorough coverage mutate bench reference clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	@touch $(STAMP)

$(MUTATE): $(STAMP)
	$(VENV)/bin/pip install --quiet -e '.[test,mutate]'
	@touch $(MUTATE)

build: $(STAMP)            ## render out/<env>/ for every environment
	$(NIMGEN) build

check: $(STAMP)            ## type-check the package (mypy --strict), then fail when out/ differs from a fresh build
	$(VENV)/bin/mypy
	$(NIMGEN) check

validate: $(STAMP)         ## validate and resolve the inputs, render nothing
	$(NIMGEN) validate

plan: $(STAMP)             ## show what a build would change in out/
	$(NIMGEN) plan

verify: $(STAMP)           ## verify out/ against the schemas (SCHEMAS=DIR: also a folder of CRD schemas)
	$(NIMGEN) verify $(if $(SCHEMAS),--schema-location $(SCHEMAS))

# worksteal: an idle worker takes queued tests from a busy one, so the long tests (fuzz families, kill trials) do not
# leave one core waiting at the end
test: $(STAMP)             ## run the test suite (fast profile: every test, a few randomized cases and trials each)
	$(VENV)/bin/python -m pytest -q -n auto --dist worksteal

test-thorough: $(STAMP)    ## the test suite in the thorough profile (CI): 2,010 fuzz cases, 32 fuzz builds, every trial
	NIMGEN_TEST_PROFILE=thorough $(VENV)/bin/python -m pytest -q -n auto --dist worksteal

typecheck: $(STAMP)        ## mypy --strict over the package (also part of check)
	$(VENV)/bin/mypy

coverage: $(STAMP)         ## the test suite with line and branch coverage of the package
	$(VENV)/bin/python -m pytest -q -n auto -p no:cacheprovider --cov=generator --cov-branch --cov-report=term

mutate: $(MUTATE)          ## mutation score of resolve/ and construct/ (mutmut in .nimgen/mutate/, ~47 min on 2 cores; never in CI)
	$(VENV)/bin/python tools/mutate.py $(if $(REV),--rev $(REV))

bench: $(STAMP)            ## time nimgen on 1,200 generated workloads in 3 environments, against a YAML-dump floor (~11 min)
	$(VENV)/bin/python tools/bench.py

reference: $(STAMP)        ## write docs/REFERENCE.md, the reference of every input field, from schemas/*.json
	$(VENV)/bin/python -m nimgen.report.reference > docs/REFERENCE.md

clean:
	rm -rf .nimgen $(VENV)
