"""The soak, short: 3 tracked DAG runs under random faults; every invariant must hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_short_soak() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "soak_airflow.py"), "3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "task states changed by the integration: 0" in out.stdout
    assert "right final Live Activity after recovery: 3/3" in out.stdout
