# The two commands of the README: `make repro` (set up + run the pipeline) and `make test` (set up + run the tests).
# Both create .venv on first use, from requirements.lock (every package pinned, hash-checked; docs/install.md). torch
# comes from pip's local wheel store on the course machines (its hashes are PyPI's, so the hash check passes either way).
VENV ?= .venv
PYTHON ?= python3
export PATH := $(abspath $(VENV))/bin:$(PATH)
STAMP := $(VENV)/.installed-stamp
LOCK := requirements.lock
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
WHEELHOUSE ?= .wheelhouse

.PHONY: repro test lint browser bench clean-resume lock wheelhouse install-offline gpu-check

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q pip==$(PIP_VERSION)
	$(VENV)/bin/python -m pip install -q --require-hashes --no-deps -r $(LOCK)
	$(VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	$(VENV)/bin/python -m pip check
	touch $(STAMP)

# Re-resolve requirements.lock from pyproject.toml (uv, from PyPI), keeping every pin it can; UPGRADE="pkg ..." moves
# those packages to their newest allowed versions (UPGRADE=all: every package). docs/install.md
lock:
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile pyproject.toml --all-extras --universal --generate-hashes -q \
	  --custom-compile-command "make lock" -o $(LOCK) \
	  $(if $(filter all,$(UPGRADE)),--upgrade,$(addprefix --upgrade-package ,$(UPGRADE)))

# Every locked wheel for one Python and platform in $(WHEELHOUSE), for a machine without internet (run it online):
#   make wheelhouse [PYTHON_VERSION=3.12] [PLATFORM=manylinux_2_28_x86_64] [SYSTEM_TORCH=1: no torch] [PACKAGES="six"]
wheelhouse:
	$(PYTHON) tools/wheelhouse.py --lock $(LOCK) --dest $(WHEELHOUSE) --pip $(PIP_VERSION) \
	  $(if $(PYTHON_VERSION),--python-version $(PYTHON_VERSION)) $(if $(PLATFORM),--platform $(PLATFORM)) \
	  $(if $(PACKAGES),--only "$(PACKAGES)") $(if $(SYSTEM_TORCH),--no-torch)

# Install from $(WHEELHOUSE) alone (pip --no-index): into .venv; SYSTEM_TORCH=1: a venv over the system's site-packages,
# using its (CUDA) torch instead of the wheelhouse's; TARGET=dir: no venv, `pip install --target dir` for $(PYTHON).
WHEELS_REQS = $(WHEELHOUSE)/$(if $(SYSTEM_TORCH),requirements-no-torch.txt,requirements.txt)
OFFLINE = --no-index --find-links $(WHEELHOUSE) --require-hashes --no-deps -r $(WHEELS_REQS)
install-offline:
	@test -f $(WHEELS_REQS) || { echo "error: no $(WHEELS_REQS): run make wheelhouse on a machine online first" >&2; exit 2; }
ifdef TARGET
	$(PYTHON) -m pip install -q --target $(TARGET) $(OFFLINE)
else
	$(PYTHON) -m venv $(if $(SYSTEM_TORCH),--system-site-packages) $(VENV)
	$(VENV)/bin/python -m pip install -q --no-index --find-links $(WHEELHOUSE) pip==$(PIP_VERSION)
	$(VENV)/bin/python -m pip install -q $(OFFLINE)
	$(VENV)/bin/python -m pip install -q --no-index --no-deps --no-build-isolation -e .
	touch $(STAMP)
endif

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

# The GPU figures in one table (.fundiff/gpu-check.md): DRY=1 runs the same code on the CPU at tiny sizes.
gpu-check: $(STAMP)
	python bench/gpu_check.py $(if $(DRY),--dry-run)

clean-resume:
	rm -rf .fundiff/resume
