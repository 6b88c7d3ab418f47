# Customer Chunks - the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CUSTOMERS ?= 5000
SEED ?= 42
DEMO := data/demo
WAREHOUSE ?= warehouse/customer_chunks.duckdb

.PHONY: install run demo-data test lint format bench clean

# The venv is rebuilt whenever pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

$(DEMO)/.done-$(CUSTOMERS)-$(SEED): $(BIN)/.installed
	rm -rf $(DEMO)
	$(BIN)/customer-chunks generate --customers $(CUSTOMERS) --seed $(SEED) --out $(DEMO)
	touch $@

demo-data: $(DEMO)/.done-$(CUSTOMERS)-$(SEED)

## run: install, generate demo data, build and publish the warehouse, write the reports,
## the dashboard and the BI exports under output/, print where the results are
run: demo-data
	$(BIN)/customer-chunks run --data $(DEMO) --warehouse $(WAREHOUSE)
	$(BIN)/customer-chunks report --warehouse $(WAREHOUSE) --out output/reports
	$(BIN)/customer-chunks export --to all --warehouse $(WAREHOUSE) --out output/exports
	@echo
	@echo "Results:"
	@echo "  warehouse  $(abspath $(WAREHOUSE))   (schema marts; see README, What you get)"
	@echo "  report     $(abspath output/reports/segmentation_report.html) (+ .pdf)"
	@echo "  dashboard  $(abspath output/reports/dashboard.html)"
	@echo "  exports    $(abspath output/exports)/  (a .parquet per mart, customer_chunks.hyper)"

## test: lint (ruff, sqlfluff) and the whole test suite (pytest runs dbt builds too)
test: install lint
	$(BIN)/pytest

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
## writes bench/results/latest.{json,md} (BENCH_ARGS="--sizes 100000 --skip-notebook")
bench: install
	$(BIN)/python -m bench.run_bench $(BENCH_ARGS)

clean:
	rm -rf target logs warehouse output $(DEMO)
