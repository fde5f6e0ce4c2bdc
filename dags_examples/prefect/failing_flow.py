"""A flow whose task fails after its retries: the activity turns red, one push says why."""

from __future__ import annotations

from prefect import flow, task

from activitysmith_prefect import activitysmith_hooks


@task
def extract() -> int:
    return 3


@task(retries=1, retry_delay_seconds=0)
def validate(rows: int) -> int:
    raise ValueError(f"{rows} rows had no id\nmore detail in the logs")


@flow(name="failing-etl", **activitysmith_hooks(auto_dismiss_minutes=5))
def failing_flow() -> int:
    return validate(extract())


if __name__ == "__main__":
    failing_flow(return_state=True)
