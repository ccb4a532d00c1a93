# The two commands of the README: `make repro` (set up + run the pipeline) and `make test` (set up + run the tests).
# Both create .venv on first use. torch comes from pip's local wheel store on the course machines (see README).
VENV ?= .venv
PYTHON ?= python3
export PATH := $(abspath $(VENV))/bin:$(PATH)
STAMP := $(VENV)/.installed-stamp

.PHONY: repro test lint browser bench clean-resume

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	touch $(STAMP)

repro: $(STAMP)
	dvc repro

# The browser test needs Debian's chromium; install it when missing and we may (root, apt available).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "warning: chromium missing and not installable here; the browser test will fail (apt-get install chromium)"

test: $(STAMP) browser
	pytest

# ruff (config in pyproject.toml): lint and formatting, as CI runs them
lint: $(STAMP)
	ruff check .
	ruff format --check .

bench: $(STAMP)  # needs the outputs of `make repro` for the sampler figures
	python bench/startup.py
	python bench/train_throughput.py
	python bench/train_knobs.py --profile default --models class_cond --rows plain,bf16,all
	python bench/inference_knobs.py
	python bench/sampler_quality.py
	python bench/quality.py --strict
	python bench/fast_samplers.py
	python bench/train_compute.py
	python bench/partA_extras.py
	python bench/repro_wall.py

clean-resume:
	rm -rf .fundiff/resume
