# Two commands matter: `make demo` and `make test`. Each creates .venv and
# installs the pinned environment (constraints.txt) the first time, and again
# whenever setup.py or constraints.txt change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ROOT ?= runs/demo
# Two pytest workers: the development and CI machines have 2 cores.
PYTEST_WORKERS ?= 2

.PHONY: install demo test lint format fixtures clean

$(STAMP): setup.py constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,beam,kfp]"
	touch $@

install: $(STAMP)

# Both pipelines on built-in synthetic data: emission lines (pipelines/demo.flags),
# then HST images (pipelines/demo_images.flags, under $(DEMO_ROOT)/images), then
# both summaries. A re-run reuses runs/demo, deleting it starts afresh.
demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/tfelg-pipeline --flagfile=pipelines/demo.flags --root=$(DEMO_ROOT)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/tfelg-pipeline --flagfile=pipelines/demo_images.flags \
		--root=$(DEMO_ROOT)/images
	@echo; echo "== emission_lines =="
	$(BIN)/python -m tfelg_pipelines.emission_lines --root=$(DEMO_ROOT)
	@echo; echo "== hst_images =="
	$(BIN)/python -m tfelg_pipelines.hst_images --root=$(DEMO_ROOT)/images

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q --durations=15

clean:
	rm -rf $(VENV) runs build *.egg-info
