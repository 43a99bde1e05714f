# Two entry points for a fresh machine that has only Python 3.10-3.12:
#   make demo   - installs into .venv, then a 3-minute night2day training run on the built-in demo data
#   make test   - installs into .venv (with test extras), then the whole test suite
# and for CI: make test-floors - every dependency at exactly its requirements.txt floor in .venv-floors, then
#   the tests those floors could break (.ci/check-floors; about 10 minutes on 2 cores: 2 to install, 8 of tests)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-floors clean

$(STAMP): setup.cfg requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# a ResNet CycleGAN (32 filters, 6 residual blocks) on 64-px crops of the built-in demo data: 500 steps,
# at most 3 minutes of training on 2 CPU cores; it ends by scoring G(night) on the demo's paired test images
demo: $(STAMP)
	$(PY) -m night2day.train --model resnet --data demo --image-size 64 --filters 32 --res-blocks 6 \
		--epochs 5 --steps-per-epoch 100 --checkpoint-every 250 --sample-every 100 --max-duration 3m \
		--out runs/demo

# two pytest workers (one per core, a test file each at a time): about 18 minutes on 2 cores instead of 31
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# requirements.txt promises only versions that work: install its floors (.ci/floors.txt) and test them
test-floors:
	PYTHON=$(PYTHON) bash .ci/check-floors

clean:
	rm -rf $(VENV) .venv-floors runs build *.egg-info
