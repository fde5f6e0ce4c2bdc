#!/usr/bin/env bash
# `make bench`: every benchmark, figures printed and written to docs/benchmarks-latest.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/benchmarks-latest.txt
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores"
  echo "\$ .venv-core/bin/python bench/client_throughput.py 1000"
  .venv-core/bin/python bench/client_throughput.py 1000
  echo; echo "\$ .venv-airflow/bin/python bench/dag_parse.py"
  .venv-airflow/bin/python bench/dag_parse.py 2>/dev/null | grep -v '^\S*Z \['
  for s in 0 0.3; do
    echo; echo "\$ BENCH_TASK_SECONDS=$s .venv-airflow/bin/python bench/task_overhead_airflow.py"
    BENCH_TASK_SECONDS=$s .venv-airflow/bin/python bench/task_overhead_airflow.py 2>/dev/null \
      | grep -v '^\S*Z \['
  done
  echo; echo "\$ .venv-airflow/bin/python bench/requests_per_run_airflow.py"
  .venv-airflow/bin/python bench/requests_per_run_airflow.py 2>/dev/null | grep -v '^\S*Z \['
  echo; echo "\$ .venv-airflow/bin/python bench/airflow_db_load.py"
  .venv-airflow/bin/python bench/airflow_db_load.py 2>/dev/null | grep -v '^\S*Z \['
  echo; echo "\$ .venv-airflow/bin/python bench/watcher_reads.py"
  .venv-airflow/bin/python bench/watcher_reads.py 2>/dev/null | grep -v '^\S*Z \['
  echo; echo "\$ .venv-airflow/bin/python bench/scheduler_loop.py"
  .venv-airflow/bin/python bench/scheduler_loop.py 2>/dev/null | grep -v '^\S*Z \['
  echo; echo "\$ .venv-prefect/bin/python bench/task_overhead_prefect.py"
  .venv-prefect/bin/python bench/task_overhead_prefect.py 2>/dev/null | grep -Ev '^[0-9]{2}:[0-9]{2}'
  echo; echo "\$ .venv-prefect/bin/python bench/prefect_api_load.py"
  .venv-prefect/bin/python bench/prefect_api_load.py 2>/dev/null | grep -Ev '^[0-9]{2}:[0-9]{2}'
} | tee "$out"
