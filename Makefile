# Customer Chunks - the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
CUSTOMERS ?= 5000
SEED ?= 42
DEMO := data/demo
WAREHOUSE ?= warehouse/customer_chunks.duckdb
# Extras `make install`/`make test` add: dev (pytest, ruff, sqlfluff, playwright); CI also
# adds engines (dbt-spark, dbt-postgres, pyspark) for the cross-engine tests:
# `make test EXTRAS=dev,engines`.
EXTRAS ?= dev
TEST_WORKERS ?= 2

.PHONY: install run demo-data test lint format bench bench-append clean

# The venv is rebuilt whenever pyproject.toml or setup.py changes. `make run` needs only
# the package; lint and tests add the dev extra. pip prints a line per package (no
# --quiet: a first install takes minutes and should not look stuck).
$(BIN)/.installed: pyproject.toml setup.py
	@start=$$(date +%s); \
	echo "install: creating $(VENV) and installing customer-chunks (1-2 minutes the first time)"; \
	$(PYTHON) -m venv $(VENV) && \
	$(BIN)/python -m pip install --quiet --upgrade pip && \
	$(BIN)/python -m pip install --progress-bar off -e . | grep -E '^(Collecting|Installing|Successfully)' ; \
	test "$${PIPESTATUS[0]}" = 0 && touch $@ && \
	echo "install: done in $$(( $$(date +%s) - start )) s"

$(BIN)/.installed-extras-$(EXTRAS): $(BIN)/.installed
	@start=$$(date +%s); \
	echo "install: adding the extras $(EXTRAS)"; \
	$(BIN)/python -m pip install --progress-bar off -e '.[$(EXTRAS)]' | grep -E '^(Collecting|Installing|Successfully)' ; \
	test "$${PIPESTATUS[0]}" = 0 && touch $@ && \
	echo "install: extras $(EXTRAS) done in $$(( $$(date +%s) - start )) s"

install: $(BIN)/.installed-extras-$(EXTRAS)

$(DEMO)/.done-$(CUSTOMERS)-$(SEED): $(BIN)/.installed src/customer_chunks/generate.py
	rm -rf $(DEMO)
	$(BIN)/customer-chunks generate --customers $(CUSTOMERS) --seed $(SEED) --out $(DEMO)
	touch $@

demo-data: $(DEMO)/.done-$(CUSTOMERS)-$(SEED)

## run: install, generate demo data, build and publish the warehouse, write the reports,
## the dashboard and the BI exports under output/, print where the results are
## Progress goes to the terminal a line per step (each command ends with its time); the
## full dbt log is logs/dbt.log. VARS="k_max=6 high_value_horizon_days=60" sets dbt vars.
run: demo-data
	@start=$$(date +%s); \
	$(BIN)/customer-chunks run --data $(DEMO) --warehouse $(WAREHOUSE) \
		$(foreach v,$(VARS),--var $(v)) && \
	$(BIN)/customer-chunks report --warehouse $(WAREHOUSE) --out output/reports && \
	$(BIN)/customer-chunks export --to all --warehouse $(WAREHOUSE) --out output/exports && \
	echo "run + report + export: $$(( $$(date +%s) - start )) s"
	@echo
	@echo "Results:"
	@echo "  warehouse  $(abspath $(WAREHOUSE))   (schema marts; see README, What you get)"
	@echo "  report     $(abspath output/reports/segmentation_report.html) (+ .pdf)"
	@echo "  dashboard  $(abspath output/reports/dashboard.html)"
	@echo "  exports    $(abspath output/exports)/  (a .parquet per mart, customer_chunks.hyper)"

## test: lint (ruff, sqlfluff) and the whole test suite (pytest runs dbt builds too), on
## TEST_WORKERS pytest-xdist workers, a test file per worker so a file's shared fixtures
## are built once (TEST_WORKERS=0 runs in one process)
test: install lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: install
	$(BIN)/ruff check src tests bench python_models reports
	$(BIN)/ruff format --check src tests bench python_models reports
	@# The dbt templater opens the profile's DuckDB file: give it a scratch one.
	mkdir -p target
	CUSTOMER_CHUNKS_DB=target/sqlfluff.duckdb $(BIN)/sqlfluff lint models tests/dbt --nocolor

format: install
	$(BIN)/ruff format src tests bench python_models reports
	$(BIN)/ruff check --fix src tests bench python_models reports
	mkdir -p target
	CUSTOMER_CHUNKS_DB=target/sqlfluff.duckdb $(BIN)/sqlfluff fix models tests/dbt

## bench: 100k and 1M customers end to end against a pandas notebook and the floor;
## writes bench/results/latest.{json,md} (BENCH_ARGS="--sizes 100000 --skip-notebook");
## then rescoring the 1% who changed at 1M against a full run of its own (issue 16,
## bench/results/append-1m.{json,md}; alone: `make bench-append`).
bench: install
	$(BIN)/python -m bench.run_bench $(BENCH_ARGS)
	$(BIN)/python -m bench.append --skip-append

## bench-append: a full run, then `score` and `run --append` of new rows for a random 1%
## of the customers, at 1M customers (BENCH_APPEND_ARGS="--customers 100000
## --skip-append"); writes bench/results/append-<N>.{json,md}
bench-append: install
	$(BIN)/python -m bench.append $(BENCH_APPEND_ARGS)

clean:
	rm -rf target logs warehouse output $(DEMO)
