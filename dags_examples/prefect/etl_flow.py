"""ETL with concurrent and mapped tasks, tracked as a segmented_progress Live Activity.

Run: ``python dags_examples/prefect/etl_flow.py`` with ACTIVITYSMITH_API_KEY (and, for the
sandbox, ACTIVITYSMITH_BASE_URL) set; or pass a saved block's name to ``activitysmith_hooks``.
"""

from __future__ import annotations

import time

from prefect import flow, task

from activitysmith_prefect import activitysmith_hooks


@task
def extract(source: str) -> list[int]:
    time.sleep(1.0)
    return [1, 2, 3] if source == "orders" else [7]


@task
def transform(value: int) -> int:
    time.sleep(0.6)
    return value * 10


@task
def load(rows: list[int]) -> int:
    time.sleep(0.6)
    return sum(rows)


@flow(name="etl", **activitysmith_hooks(title="Nightly ETL (Prefect)", auto_dismiss_minutes=2))
def etl_flow() -> int:
    orders = extract.submit("orders")
    customers = extract.submit("customers")
    rows = transform.map(orders.result() + customers.result())
    return load(rows.result())


if __name__ == "__main__":
    print(etl_flow())
