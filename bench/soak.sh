#!/usr/bin/env bash
# `make soak`: 30 tracked DAG runs and 30 tracked flow runs under random faults, then recovery.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
.venv-airflow/bin/python bench/soak_airflow.py "$RUNS" 2>/dev/null | grep -v '^\S*Z \['
.venv-prefect/bin/python bench/soak_prefect.py "$RUNS" 2>/dev/null | grep -Ev '^[0-9]{2}:[0-9]{2}'
