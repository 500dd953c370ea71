# fer-study: `make report` builds the full report, `make test` runs the tests. `make` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV     ?= .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
PROFILE  ?= auto
FER2013_ZIP ?=
export FER2013_ZIP

REPORTS  := $(patsubst notebooks/%,reports/%,$(wildcard notebooks/[0-9][0-9]-*.ipynb))
PROFILE_STAMP := reports/.profile-$(PROFILE)

.PHONY: help setup kernel-user data report smoke test test-fast lint lab results score-folder gpu-profiles sweep publish clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'
	@echo "  options: PROFILE=auto|smoke|cpu|evaluate|full|original (auto: full on a GPU, cpu otherwise), FER2013_ZIP=path/to/fer2013.zip"

setup: $(STAMP) ## create .venv with everything installed, and its own Jupyter kernel "fer-study"

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m ipykernel install --sys-prefix --name fer-study --display-name "Python (fer-study)"
	touch $@

# The kernel lives inside .venv (--sys-prefix), so `make lab` finds this checkout's own and no other clone can
# overwrite it. A Jupyter installed elsewhere does not look there: kernel-user registers it for this user, under a
# name that includes this checkout's folder.
KERNEL_USER := fer-study-$(notdir $(CURDIR))
kernel-user: $(STAMP) ## register this checkout's kernel for a Jupyter installed elsewhere (per user)
	$(PY) -m ipykernel install --user --name $(KERNEL_USER) --display-name "Python (fer-study, $(CURDIR))"
	@echo "In your Jupyter, pick the kernel 'Python (fer-study, $(CURDIR))'."

data: $(STAMP) ## obtain and verify FER2013 in data/fer2013 (from a folder, FER2013_ZIP, fer2013.csv or Kaggle)
	$(PY) -c "from fer_utils.data.fer2013 import load_arrays; load_arrays()"

# One executed notebook per report. Each depends on its notebook, on the package, on the profile, and on the report
# whose output it reads: notebooks 03-05 use the checkpoint that notebook 02 trains.
reports/01-data-exploration.ipynb: notebooks/01-data-exploration.ipynb
reports/02-training.ipynb: notebooks/02-training.ipynb
reports/03-evaluation.ipynb: notebooks/03-evaluation.ipynb reports/02-training.ipynb
reports/04-error-analysis.ipynb: notebooks/04-error-analysis.ipynb reports/02-training.ipynb
reports/05-webcam-demo.ipynb: notebooks/05-webcam-demo.ipynb reports/02-training.ipynb

reports/%.ipynb: $(PROFILE_STAMP) pyproject.toml $(wildcard fer_utils/*.py fer_utils/*/*.py) | $(STAMP)
	$(PY) -m fer_utils.report.pipeline --profile $(PROFILE) --only $*

$(PROFILE_STAMP): | $(STAMP)
	mkdir -p reports && rm -f reports/.profile-* && touch $@

report: $(REPORTS) ## run all notebooks on PROFILE into reports/ (executed .ipynb + HTML)

smoke: ## run all notebooks on the smoke profile (about 2 minutes, tiny data)
	$(MAKE) report PROFILE=smoke

test: $(STAMP) ## run the tests, including a smoke run of the whole pipeline (what CI runs)
	$(PY) -m pytest

test-fast: $(STAMP) ## the tests for the edit loop: no notebooks, training runs, browser or several processes
	$(PY) -m pytest -m "not slow and not browser"

lint: $(STAMP) ## check the code with ruff
	$(VENV)/bin/ruff check fer_utils tests benchmarks

lab: $(STAMP) ## open JupyterLab on the notebooks, with this checkout's kernel
	JUPYTER_PREFER_ENV_PATH=1 $(VENV)/bin/jupyter lab notebooks

FOLDER ?=
OUT    ?= reports/score-folder
score-folder: $(STAMP) ## score the shipped model on your labelled faces: FOLDER=path (a subfolder per emotion) OUT=path
	@test -n "$(FOLDER)" || { echo "usage: make score-folder FOLDER=path/to/faces OUT=path/to/results (FOLDER holds a subfolder per emotion)"; exit 2; }
	$(PY) -m fer_utils.report.score_folder "$(FOLDER)" --out "$(OUT)"

gpu-profiles: $(STAMP) ## on a CUDA GPU: train and evaluate the full and original profiles into runs/gpu-profiles.json
	$(PY) -m fer_utils.training.gpu_profiles

SWEEP ?= balance recipe
sweep: $(STAMP) ## rerun the Optuna sweeps from scratch (SWEEP=balance or recipe; both by default) into models/sweeps/
	for name in $(SWEEP); do $(PY) -m fer_utils.training.sweep configs/sweeps/$$name.yaml --fresh || exit 1; done

results: $(STAMP) ## adopt the shipped model's metrics (reports/metrics.json of `make report PROFILE=evaluate`) into models/
	$(PY) -m fer_utils.report.results adopt

publish: ## make report PROFILE=evaluate, then its executed notebooks into docs/report/ (the published report)
	$(MAKE) report PROFILE=evaluate
	$(PY) -m fer_utils.report.results publish

clean: ## remove reports and caches (keeps .venv, data and trained runs)
	rm -rf reports .pytest_cache .ruff_cache data/cache
