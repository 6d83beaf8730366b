# Two commands: `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.cartreg-installed
BENCH_STAMP := $(VENV)/.cartreg-bench-installed

.PHONY: demo test bench calibrate clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test,federated]'
	touch $(STAMP)

# The pandas + lifelines baseline is only needed to benchmark against it.
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,federated,bench]'
	touch $(BENCH_STAMP)

demo: $(STAMP)
	$(VENV)/bin/cartreg demo -o demo-output

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(BENCH_STAMP)
	$(PY) benchmarks/run.py

calibrate: $(STAMP)
	$(PY) scripts/calibrate.py

clean:
	rm -rf $(VENV) demo-output bench-output
