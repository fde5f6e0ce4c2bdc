#!/usr/bin/env bash
# `make bench`: every benchmark, figures printed and written to docs/benchmarks-latest.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/benchmarks-latest.txt

# bench VENV SCRIPT [NAME=VALUE...]: the command line, then the figures without the log lines.
bench() {
  local venv=$1 script=$2 logs='^\S*Z \['
  shift 2
  if [[ $venv == prefect ]]; then logs='^[0-9]{2}:[0-9]{2}'; fi
  echo; echo "\$ ${*:+$* }.venv-$venv/bin/python bench/$script"
  env "$@" ".venv-$venv/bin/python" "bench/$script" 2>/dev/null | grep -Ev "$logs"
}

{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores"
  echo "\$ .venv-core/bin/python bench/client_throughput.py 1000"
  .venv-core/bin/python bench/client_throughput.py 1000
  bench airflow dag_parse.py
  for s in 0 0.3; do
    bench airflow task_overhead_airflow.py "BENCH_TASK_SECONDS=$s"
  done
  for script in requests_per_run_airflow airflow_db_load watcher_reads scheduler_loop; do
    bench airflow "$script.py"
  done
  bench prefect task_overhead_prefect.py
  bench prefect prefect_api_load.py
} | tee "$out"
