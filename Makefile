# The two commands of the README: `make train` (Phase 1E training, default config) and `make test`.
# Both create or refresh the virtual environment at .venv first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv train test bench clips reference

venv: $(STAMP)

# torch first, pinned: 2.13.0 is the CPU build this machine provides; an unpinned torch would pull
# several GB of CUDA packages.
$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

train: $(STAMP)
	$(PY) training/train_ppo.py

test: $(STAMP)
	MUJOCO_GL=$${MUJOCO_GL:-egl} $(PY) -m pytest -n 2 -q

bench: $(STAMP)
	$(PY) benchmarks/env_speed.py
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/reference_speed.py

clips: $(STAMP)
	$(PY) -m reference.make_clips

reference: $(STAMP)
	$(PY) -m reference.generate --output-dir data/tier0plus
