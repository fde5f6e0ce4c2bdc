"""One flow run of the group "nightly", in a process of its own: ``group_flow.py NAME SECONDS
MODE FAIL``. MODE is how it joins: ``option`` (the tracker's ``group``), ``tag`` (the tag
``activitysmith-group:nightly``) or ``own`` (``group`` and ``own_activity=True``)."""

from __future__ import annotations

import logging
import sys
import time

from prefect import flow, tags, task

from activitysmith_prefect import activitysmith_hooks

NAME, SECONDS, MODE, FAIL = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
GROUP = "nightly"

_handler = logging.StreamHandler()
_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
for _name in ("activitysmith_prefect", "activitysmith_core"):
    logging.getLogger(_name).addHandler(_handler)
    logging.getLogger(_name).setLevel(logging.INFO)


@task
def extract() -> int:
    time.sleep(SECONDS / 2)
    return 1


@task
def load(rows: int) -> int:
    time.sleep(SECONDS / 2)
    if FAIL:
        raise ValueError(f"{NAME}: partition 7 is broken")
    return rows


options: dict[str, object] = {"interval": 0.3, "time_left": False}
if MODE in ("option", "own"):
    options["group"] = GROUP
if MODE == "own":
    options["own_activity"] = True


@flow(name=NAME, **activitysmith_hooks(**options))  # type: ignore[arg-type]
def pipeline() -> int:
    return load(extract())


if __name__ == "__main__":
    if MODE == "tag":
        with tags(f"activitysmith-group:{GROUP}"):
            state = pipeline(return_state=True)
    else:
        state = pipeline(return_state=True)
    print(f"{time.time():.3f} final state: {state.type.value}", flush=True)
