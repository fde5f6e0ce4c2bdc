"""DAG parsing cost of the provider: import time in fresh interpreters, and repeated DagBag
parses of a DAG file using the tracker and the notifier vs the same DAG without them.

    .venv-airflow/bin/python bench/dag_parse.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _airflow

HOME = _airflow.home("bench-parse-", log_level="WARNING", dags=False)

BODY = """
import pendulum
from airflow.sdk import chain, dag, task
{imports}

@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
     {kwargs})
def d():
    chain(*(task(task_id=f"t{{i}}")(lambda: None)() for i in range(20)))

d()
"""

TRACKED = BODY.format(
    dag_id="tracked",
    imports="from activitysmith_airflow import ActivitySmithDagRunTracker, ActivitySmithNotifier",
    kwargs="**ActivitySmithDagRunTracker().dag_kwargs(on_failure_callback="
    "ActivitySmithNotifier(title='{{{{ dag.dag_id }}}} failed'))",
)
PLAIN = BODY.format(dag_id="plain", imports="", kwargs="")

PROBE = textwrap.dedent("""
    import sys, time
    import airflow.sdk
    before = "httpx" in sys.modules
    t = time.perf_counter()
    from activitysmith_airflow import ActivitySmithDagRunTracker, ActivitySmithNotifier
    ActivitySmithDagRunTracker(); ActivitySmithNotifier(title="x")
    dt = time.perf_counter() - t
    print(dt, "httpx" in sys.modules and not before, "activitysmith_core._client" in sys.modules
          or "activitysmith_core.models" in sys.modules)
""")


def main() -> None:
    samples, leaked = [], set()
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", PROBE],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            check=True,
        ).stdout.split()
        samples.append(float(out[0]))
        leaked |= {
            name
            for name, flag in zip(("httpx", "core client/models"), out[1:], strict=True)
            if flag == "True"
        }
    print(
        "Provider import + tracker + notifier construction (fresh interpreter, after "
        f"airflow.sdk): median {statistics.median(samples) * 1000:.1f} ms over 5"
    )
    print(
        "Modules the provider pulls at parse time: "
        f"{sorted(leaked) or 'neither httpx nor the core client or models'}"
        " (Airflow itself already imports httpx and pydantic)"
    )

    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    times: dict[str, list[float]] = {}
    for name, code in (("tracked", TRACKED), ("plain", PLAIN)):
        folder = HOME / name
        folder.mkdir()
        (folder / f"{name}.py").write_text(code)
        DagBag(str(folder))  # warm caches once
        runs = []
        for _ in range(20):
            t0 = time.perf_counter()
            bag = DagBag(str(folder))
            runs.append(time.perf_counter() - t0)
            assert not bag.import_errors, bag.import_errors
        times[name] = runs
    tracked, plain = (statistics.median(times[k]) * 1000 for k in ("tracked", "plain"))
    print(
        f"DagBag parse of a 20-task DAG, median of 20: tracked {tracked:.1f} ms, plain "
        f"{plain:.1f} ms, overhead {tracked - plain:.1f} ms"
    )


if __name__ == "__main__":
    main()
