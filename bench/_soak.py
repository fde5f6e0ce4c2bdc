"""What the Airflow and Prefect soaks share: the faults the sandbox injects, the untracked
baseline, and the check that a run's activity ended with its right final state."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

FAULTS = {
    "error_rate": 0.15,
    "drop_rate": 0.05,
    "hang_rate": 0.03,
    "hang_seconds": 3,
    "latency": 0.02,
    "seed": 7,
}


def baseline(url: str, run: Callable[[], object]) -> float:
    """Median seconds of three untracked runs; the sandbox's record is cleared after them."""
    took = []
    for _ in range(3):
        t0 = time.perf_counter()
        run()
        took.append(time.perf_counter() - t0)
    httpx.post(f"{url}/_sandbox/reset")
    return statistics.median(took)


def inject_faults(url: str, i: int) -> None:
    """The faults for the ``i``-th tracked run: FAULTS, plus a 429 burst every 5th run."""
    faults = dict(FAULTS, rate_limit_burst=3 if i % 5 == 0 else 0, retry_after=1)
    httpx.post(f"{url}/_sandbox/faults", json=faults)


def activities(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The sandbox state's activities by stream key."""
    return {a["stream_key"]: a for a in state["activities"] if a["stream_key"]}


def ended_succeeded(act: dict[str, Any] | None, **content: Any) -> bool:
    """``act`` ended, badged Succeeded, with these ``content`` state values."""
    cs = act["content_state"] if act else {}
    return bool(
        act
        and act["status"] != "active"
        and all(cs.get(k) == v for k, v in content.items())
        and cs.get("badge", {}).get("title") == "Succeeded"
    )
