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

# The pandas + lifelines baseline runs in its own venv (.venv-baseline, the `bench` extra), so that
# cartreg is measured as installed by default (pandas importable makes pyarrow import it: +0.3-0.5 s).
BASE_VENV := .venv-baseline
$(BENCH_STAMP): $(STAMP)
	test -x $(BASE_VENV)/bin/python || $(PYTHON) -m venv $(BASE_VENV)
	$(BASE_VENV)/bin/pip install -q -e '.[bench]'
	touch $(BENCH_STAMP)

demo: $(STAMP)
	$(VENV)/bin/cartreg demo -o demo-output

test: $(STAMP)
	$(PY) -m pytest -q

# issue 15: DuckDB reference, validate/import/analyze at 10^6, a 1,000-patient report, --help, and
# pandas + lifelines and R at 2x10^5, in one run (BENCH_ARGS=--quick for 10^5 / 2x10^4)
bench: $(BENCH_STAMP)
	$(PY) benchmarks/run.py --baseline-python $(BASE_VENV)/bin/python $(BENCH_ARGS)

calibrate: $(STAMP)
	$(PY) scripts/calibrate.py

clean:
	rm -rf $(VENV) $(BASE_VENV) demo-output bench-output
