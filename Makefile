# Two entry points (see README): `make demo` and `make test`.
# Both create .venv on first use and install everything they need.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast bench

# torch first, pinned: the CPU build of 2.13.0 lies on disk here, any other spec downloads gigabytes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,peers,simulation,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m protocols train --backend secagg+ --dataset breast_cancer --clients 10 --rounds 10 --dropout 0.1 --epsilon 8 --out runs/demo

CODE := fedsecure secagg he dp protocols benchmarks tests examples notebooks/execute.py

# The whole suite, slow tests and notebooks included, after the lint, type and documentation checks.
test: $(STAMP)
	$(PY) -m ruff check $(CODE)
	$(PY) -m ruff format --check $(CODE)
	$(PY) -m mypy fedsecure secagg he dp protocols
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet --site-dir site
	$(PY) -m pytest -n 2 --dist loadgroup -m "" -q

# The quick loop while developing: slow tests left out.
test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -q

bench: $(STAMP)
	$(PY) benchmarks/secagg_bench.py
	$(PY) benchmarks/he_bench.py
	$(PY) benchmarks/dp_bench.py
	$(PY) benchmarks/fedavg_bench.py
