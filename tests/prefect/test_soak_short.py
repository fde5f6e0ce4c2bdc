"""The soak, short: 3 tracked flow runs under random faults; every invariant must hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_short_soak() -> None:
    # The session's real Prefect server, not an ephemeral one started under CI load.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_API_URL"] = os.environ["PREFECT_API_URL"]
    out = subprocess.run(
        [sys.executable, str(BENCH / "soak_prefect.py"), "3"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "flow runs whose own final state changed: 0" in out.stdout
    assert "right final Live Activity after recovery: 3/3" in out.stdout
