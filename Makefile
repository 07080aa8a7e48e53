# taxilab — `make` alone lists the targets. Every target is one line that calls the lab's CLI.
# Set-up is automatic: the first target you run creates .venv, installs the pinned dependencies and
# fetches the Spark S3A jars from Maven Central (cached under .lab/jars).

MONTH  ?= 2024-02
SOURCE ?= synthetic
ROWS   ?= 3007526
SEED   ?= 42
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
LAB    := $(VENV)/bin/taxilab
STAMP  := $(VENV)/.installed
# PROFILE=local|compose|aws picks the lab's profile for every target (the CLI's TAXILAB_PROFILE), e.g.
# `make up PROFILE=compose`; unset, the environment's TAXILAB_PROFILE (default local) applies.
ifdef PROFILE
export TAXILAB_PROFILE := $(PROFILE)
endif
# PROFILE=aws: the settings `make deploy-env` wrote from Terraform's outputs (deploy_aws/, ADR 0015).
ifeq ($(PROFILE),aws)
ifneq ($(wildcard .lab/aws.env),)
include .lab/aws.env
export $(shell sed -n 's/^\(TAXILAB_[A-Z0-9_]*\)=.*/\1/p' .lab/aws.env)
endif
endif
TF := terraform -chdir=deploy_aws
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := .lab/tools/actionlint-$(ACTIONLINT_VERSION)/actionlint

.DEFAULT_GOAL := help
.PHONY: test-containers lint-workflows
.PHONY: ops-status ops-check
.PHONY: bench-scaling test-fast
.PHONY: help setup up down status pipeline report crawl catalog simulate backfill scheduler test test-unit test-integration robustness bench bench-queries compose-up compose-down lint clean

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  make %-17s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@echo "first run: creating $(VENV) and installing pinned dependencies (pyspark, moto, embedded PostgreSQL, ...)."
	@echo "this downloads ~600 MB and takes a few minutes; later runs skip it."
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "taxilab needs Python 3.11 (AWS Glue 5.0), found " + sys.version.split()[0]'
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --upgrade pip
	@$(VENV)/bin/pip install --quiet -e ".[dev,analysis]"
	@echo "fetching the Spark S3A connector jars (hadoop-aws + AWS SDK bundle, ~280 MB, once) ..."
	@$(LAB) jars >/dev/null
	@touch $(STAMP)

setup: $(STAMP) ## create .venv, install pinned dependencies, fetch the S3A jars

up: $(STAMP) ## start the embedded services (moto server + PostgreSQL) in the background; IDLE_MINUTES=N stops PostgreSQL after N idle minutes
	@$(LAB) up $(if $(IDLE_MINUTES),--idle-minutes $(IDLE_MINUTES))

down: $(STAMP) ## stop the embedded services
	@$(LAB) down

status: $(STAMP) ## show the embedded services and their endpoints
	@$(LAB) status

pipeline: $(STAMP) ## run the pipeline: MONTH=YYYY-MM SOURCE=synthetic|tlc|<file.parquet> ROWS=N
	@$(LAB) pipeline --month $(MONTH) --source $(SOURCE) --rows $(ROWS) --seed $(SEED)

report: $(STAMP) ## print the latest run report (.lab/runs/latest.json)
	@$(LAB) report

crawl: $(STAMP) ## crawl the lake zones into the Glue catalog (new partitions only)
	@$(LAB) glue crawl

catalog: $(STAMP) ## list the Glue catalog: databases, tables, partitions, columns
	@$(LAB) glue catalog

simulate: $(STAMP) ## daily drops through S3 event -> SQS -> incremental run; prints freshness: SIM_MONTH DAYS ROWS_PER_DAY|GB_PER_DAY
	@$(LAB) glue simulate --month $(or $(SIM_MONTH),2024-04) --days $(or $(DAYS),3) $(if $(GB_PER_DAY),--gb-per-day $(GB_PER_DAY),--rows-per-day $(or $(ROWS_PER_DAY),100000)) --seed $(SEED)

backfill: $(STAMP) ## run the Glue workflow for each month FROM..TO (completed months skipped): FROM TO
	@$(LAB) glue backfill --from $(or $(FROM),$(MONTH)) --to $(or $(TO),$(or $(FROM),$(MONTH)))

scheduler: $(STAMP) ## fire the workflow's scheduled (cron) trigger when due; runs until stopped
	@$(LAB) glue scheduler

test: $(STAMP) deploy-check ## run the deploy_aws offline checks, then unit then integration tests (starts its own embedded services)
	@$(VENV)/bin/python -m tests.run_all

test-fast: $(STAMP) ## unit then integration tests without the slow kill/fault/S3A-fault/container/browser tests (`make test` runs all)
	@$(VENV)/bin/python -m tests.run_all --fast

test-unit: $(STAMP) ## unit tests only (no services)
	@$(VENV)/bin/python -m pytest tests/unit -q

test-integration: $(STAMP) ## integration tests only (embedded services, Spark, real data sample)
	@$(VENV)/bin/python -m pytest tests/integration -q

robustness: $(STAMP) ## bad-input corpus, eras, faults, secret scan; prints inputs refused/quarantined, crashes, rows lost
	@$(VENV)/bin/python -m tests.robustness_report

bench: $(STAMP) ## end-to-end benchmark on the default month + one warm daily drop (ROWS_DROP=100000), each against DuckDB (prints figures)
	@$(LAB) bench --month $(MONTH) --rows $(ROWS) --seed $(SEED) $(if $(ROWS_DROP),--rows-drop $(ROWS_DROP))

SIZES ?= 1000000 3007526
BENCH_SCALING_CSV := docs/img/bench_scaling.csv
bench-scaling: $(STAMP) ## `make bench` at each of SIZES="1000000 3007526 ..." trips (no daily drop unless ROWS_DROP=N): CSV, markdown table and plot in docs/img/
	@for n in $(SIZES); do $(VENV)/bin/python -m taxilab.bench run --month $(MONTH) --rows $$n --seed $(SEED) --rows-drop $(or $(ROWS_DROP),0) --record $(BENCH_SCALING_CSV) || exit 1; done
	@$(VENV)/bin/python -m taxilab.bench report --record $(BENCH_SCALING_CSV) --out docs/img

ops-status: $(STAMP) ## last runs with stage times, alarm states, drop freshness, month-to-date cost vs budget
	@$(LAB) ops status

ops-check: $(STAMP) ## evaluate the declared alarms and the budget now (changes go to SNS -> SQS and .lab/alerts)
	@$(LAB) ops check

bench-queries: $(STAMP) ## latency of every named analytics query over MONTH in the warehouse (median/p95, prints figures)
	@$(LAB) sql bench --month $(MONTH)

.PHONY: dashboard notebook demo bench-dashboard
dashboard: $(STAMP) ## Streamlit dashboard on 127.0.0.1 (PORT=8501, or a free port), prints the URL
	@$(VENV)/bin/python -m dashboard.launch dashboard $(if $(PORT),--port $(PORT))

notebook: $(STAMP) ## JupyterLab on 127.0.0.1 over notebooks/ with the lab's kernel (PORT=8888, or a free port)
	@$(VENV)/bin/python -m dashboard.launch notebook $(if $(PORT),--port $(PORT))

demo: $(STAMP) ## a small synthetic month through the pipeline (DEMO_MONTH, DEMO_ROWS=200000), then the dashboard
	@$(LAB) pipeline --month $(or $(DEMO_MONTH),2024-02) --source synthetic --rows $(or $(DEMO_ROWS),200000) --seed $(SEED) && $(VENV)/bin/python -m dashboard.launch demo $(if $(PORT),--port $(PORT))

bench-dashboard: $(STAMP) ## render time of each dashboard page on the default month (prints figures; target < 2 s)
	@$(VENV)/bin/python -m dashboard.bench

compose-up: ## the same as `make up PROFILE=compose` (containers of docker-compose.yml; needs a Docker engine)
	@$(MAKE) --no-print-directory up PROFILE=compose

compose-down: ## the same as `make down PROFILE=compose`
	@$(MAKE) --no-print-directory down PROFILE=compose

test-containers: $(STAMP) ## container tests: compose stack, jobs in the Glue container, pipeline on the compose profile (needs a Docker engine)
	@$(VENV)/bin/python -m pytest tests/containers -q

lint-workflows: $(STAMP) $(ACTIONLINT) ## actionlint + zizmor (offline) over .github/workflows/*.yml
	@$(ACTIONLINT) .github/workflows/*.yml
	@$(VENV)/bin/zizmor --offline --no-progress .github/workflows/

$(ACTIONLINT):
	@command -v go >/dev/null || { echo "lint-workflows builds actionlint with Go (go install): install Go first"; exit 1; }
	@echo "building actionlint $(ACTIONLINT_VERSION) with go install (once, cached in .lab/tools) ..."
	@GOBIN=$(abspath $(dir $(ACTIONLINT))) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

lint: $(STAMP) ## ruff, ruff format --check, mypy, import-linter (layers, ADR 0012), workflow linters
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy
	@$(VENV)/bin/lint-imports
	@$(MAKE) --no-print-directory lint-workflows

.PHONY: deploy-check deploy-plan deploy destroy deploy-env
deploy-check: $(STAMP) ## offline checks of deploy_aws/: fmt, tflint, checkov, parliament, HCL structure, outputs->env (tools cached in .lab/tools)
	@bash deploy_aws/scripts/install_tools.sh && $(VENV)/bin/python -m pytest tests/deploy -q -p no:cacheprovider

deploy-plan: $(STAMP) ## build the lab's wheel (dist/), terraform init with deploy_aws/backend.hcl, plan -> deploy_aws/tfplan (review it)
	@$(VENV)/bin/pip wheel --quiet --no-deps --wheel-dir dist . && $(TF) init -input=false -backend-config=backend.hcl && $(TF) plan -input=false -out=tfplan

deploy: ## apply the reviewed deploy_aws/tfplan on AWS (costs start), then write .lab/aws.env (make deploy-env)
	@test -f deploy_aws/tfplan || { echo "no deploy_aws/tfplan: run make deploy-plan and review it first"; exit 2; }; $(TF) apply -input=false tfplan && rm -f deploy_aws/tfplan && $(MAKE) --no-print-directory deploy-env

destroy: ## terraform destroy: everything deploy_aws/ created on AWS, the lake's objects included
	@$(TF) destroy

deploy-env: $(STAMP) ## write the aws profile's settings (.lab/aws.env, read by PROFILE=aws) from terraform output -json
	@$(TF) output -json | $(VENV)/bin/python deploy_aws/scripts/outputs_to_env.py --out .lab/aws.env

clean: ## stop services and delete .lab state (keeps the jar cache and .venv)
	-@test -x $(LAB) && $(LAB) down
	@find .lab -mindepth 1 -maxdepth 1 ! -name jars -exec rm -rf {} +
