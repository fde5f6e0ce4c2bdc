"""Stream a host's figures as a ``metrics`` Live Activity and update a widget metric."""

from __future__ import annotations

import os

from prefect import flow

from activitysmith_prefect import stream_live_activity, update_metric


@flow(name="server-metrics")
def metrics_flow(host: str = "web-1") -> None:
    load1, _, _ = os.getloadavg()
    cpu = round(min(100.0, load1 * 25), 1)
    stream_live_activity(
        f"metrics-{host}",
        {
            "title": host,
            "type": "metrics",
            "metrics": [
                {"label": "CPU", "value": cpu, "unit": "%"},
                {"label": "MEM", "value": 41.5, "unit": "%"},
            ],
        },
    )
    update_metric("cpu.load", cpu)


if __name__ == "__main__":
    metrics_flow()
