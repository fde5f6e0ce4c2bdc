"""Flows served by a real Prefect Runner: one cancelled from outside, one whose process dies."""

from __future__ import annotations

import os
import time

from prefect import flow, serve, task

from activitysmith_prefect import activitysmith_hooks


@task
def quick() -> int:
    return 1


@task
def long_step() -> None:
    time.sleep(300)


@task
def dies() -> None:
    time.sleep(1.5)  # the Live Activity shows it running first
    os._exit(3)


@flow(name="cancellable", **activitysmith_hooks(interval=0.5, deadline=5))
def cancellable() -> None:
    quick()
    long_step()


@flow(name="dying", **activitysmith_hooks(interval=0.5, deadline=5))
def dying() -> None:
    quick()
    dies()


if __name__ == "__main__":
    serve(cancellable.to_deployment("cancel-test"), dying.to_deployment("crash-test"))
