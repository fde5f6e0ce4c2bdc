# Everything installs itself: `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_FLAGS ?= -q
export UV_LINK_MODE := copy

.PHONY: help uv env-core env-airflow env-airflow-min env-prefect env-prefect-38 env-prefect-min lint typecheck test test-core test-airflow test-airflow-min test-prefect test-prefect-38 test-prefect-min test-deploy dist test-dist demo bench soak clean

help:
	@echo "make demo   - run the example DAG and flow against the embedded sandbox"
	@echo "make test   - lint, type-check and run every test suite"
	@echo "make test-deploy - the real-deployment tests (PostgreSQL, schedulers, Celery)"
	@echo "make bench  - benchmarks (writes docs/benchmarks.md)"
	@echo "make soak   - long fault-injection soak"

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install -q uv

env-core: uv
	UV_PROJECT_ENVIRONMENT=.venv-core $(UV) sync -q --group dev

env-airflow: uv
	UV_PROJECT_ENVIRONMENT=.venv-airflow $(UV) sync -q --no-default-groups --group airflow

env-airflow-min: uv
	UV_PROJECT_ENVIRONMENT=.venv-airflow-min $(UV) sync -q --no-default-groups --group airflow-min

env-prefect: uv
	UV_PROJECT_ENVIRONMENT=.venv-prefect $(UV) sync -q --no-default-groups --group prefect

env-prefect-38: uv
	UV_PROJECT_ENVIRONMENT=.venv-prefect-38 $(UV) sync -q --no-default-groups --group prefect-38

env-prefect-min: uv
	UV_PROJECT_ENVIRONMENT=.venv-prefect-min $(UV) sync -q --no-default-groups --group prefect-min

lint: env-core
	.venv-core/bin/ruff check .
	.venv-core/bin/ruff format --check core activitysmith_airflow activitysmith_prefect

typecheck: env-core env-airflow env-prefect
	.venv-core/bin/mypy core/src/activitysmith_core
	.venv-core/bin/mypy --python-executable .venv-airflow/bin/python activitysmith_airflow/src/activitysmith_airflow
	.venv-core/bin/mypy --python-executable .venv-prefect/bin/python activitysmith_prefect/src/activitysmith_prefect

test-core: env-core
	.venv-core/bin/python -m pytest $(PYTEST_FLAGS) tests/core

# Real deployments (PostgreSQL, the API server, one or two schedulers, the triggerer, Celery
# workers) and the short soak: `make test-deploy`, run by CI after `make test`.
DEPLOY := tests/airflow/test_celery.py tests/airflow/test_concurrency_postgres.py \
	tests/airflow/test_groups.py tests/airflow/test_migrations.py tests/airflow/test_pg_restart.py \
	tests/airflow/test_single_writer.py tests/airflow/test_soak_short.py \
	tests/airflow/test_off_switch.py::test_switched_off_while_a_scheduler_runs \
	tests/airflow/test_deadline.py::test_a_missed_deadline_pushes_from_the_triggerer
NOT_DEPLOY := $(foreach t,$(DEPLOY),--deselect $(t))

test-airflow: env-airflow
	.venv-airflow/bin/python -m pytest $(PYTEST_FLAGS) tests/airflow $(NOT_DEPLOY)

# Airflow 3.1, the oldest supported: the provider, listener and run tests; the outage-timing,
# quota and folding tests (the core's, slow on 3.1's dags test) run on the newest.
test-airflow-min: env-airflow-min
	.venv-airflow-min/bin/python -m pytest $(PYTEST_FLAGS) tests/airflow $(NOT_DEPLOY) \
		--deselect tests/airflow/test_faults.py::test_an_outage_costs_a_run_at_most_one_deadline \
		--deselect tests/airflow/test_fold_subtitles.py \
		--deselect tests/airflow/test_quota.py

# The deployments on the newest Airflow; the provider's migrations on 3.1 too.
test-deploy: env-airflow env-airflow-min
	.venv-airflow/bin/python -m pytest $(PYTEST_FLAGS) $(DEPLOY)
	.venv-airflow-min/bin/python -m pytest $(PYTEST_FLAGS) tests/airflow/test_migrations.py

test-prefect: env-prefect
	.venv-prefect/bin/python -m pytest $(PYTEST_FLAGS) tests/prefect

# Prefect 3.8, between the oldest and the newest: the tests of what differs between Prefect
# versions (the engine's internals, the event stream, runners, hooks, concurrency leases).
test-prefect-38: env-prefect-38
	.venv-prefect-38/bin/python -m pytest $(PYTEST_FLAGS) tests/prefect/test_runners.py \
		tests/prefect/test_events.py tests/prefect/test_flows.py \
		tests/prefect/test_groups.py::test_a_group_of_runs_in_separate_processes_shares_one_activity

# Prefect 3.6, the oldest supported: all but the soak, the slot queue (the core's, tested on
# the newest) and a crashed group writer's minute-long lease expiry.
test-prefect-min: env-prefect-min
	.venv-prefect-min/bin/python -m pytest $(PYTEST_FLAGS) tests/prefect \
		--deselect tests/prefect/test_soak_short.py \
		--deselect tests/prefect/test_slots.py \
		--deselect tests/prefect/test_groups.py::test_a_crashed_writer_is_ended_by_its_runner_once_its_lease_expires

# The three wheels and sdists (each wheel built from its sdist), checked by twine.
dist: env-core
	rm -rf dist
	for pkg in core activitysmith_airflow activitysmith_prefect; do \
		$(UV) build -q --out-dir dist $$pkg || exit 1; \
	done
	.venv-core/bin/twine check --strict dist/*

# The built wheels installed with pip into clean venvs beside Airflow 3.1 and Prefect 3.6.
test-dist: dist
	.venv-core/bin/python -m pytest $(PYTEST_FLAGS) tests/dist

test: lint typecheck test-core test-airflow test-airflow-min test-prefect test-prefect-38 test-prefect-min test-dist

demo: env-core env-airflow env-prefect
	.venv-core/bin/python scripts/demo.py $(if $(KEEP),--keep,)

bench: env-core env-airflow env-prefect
	bash bench/run_all.sh

soak: env-airflow env-prefect
	bash bench/soak.sh

clean:
	rm -rf .venv-core .venv-airflow .venv-airflow-min .venv-prefect .venv-prefect-38 .venv-prefect-min .demo
