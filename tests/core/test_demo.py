"""`make demo` end to end: both example runs against the sandbox, the output checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READY = all(
    (ROOT / venv / "bin" / "python").exists() for venv in (".venv-airflow", ".venv-prefect")
)


@pytest.mark.skipif(
    not READY and not os.environ.get("CI"),
    reason="needs .venv-airflow and .venv-prefect (make env-airflow env-prefect)",
)
def test_demo_runs_both_examples(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ACTIVITYSMITH_", "AIRFLOW", "PREFECT_"))
    }
    env["COLUMNS"] = "100"
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    assert "Sandbox on http://127.0.0.1:" in text
    summary = re.search(
        r"runs: (\d+) \((\d+) finished\)\s+Live Activities: (\d+)\s+"
        r"updates: (\d+)\s+pushes: (\d+)",
        text,
    )
    assert summary, text[-3000:]
    runs, finished, activities, updates, pushes = map(int, summary.groups())
    assert (runs, finished, activities) == (3, 3, 3)
    assert updates >= 6 and pushes == 1
    assert "Nightly ETL  [Succeeded]" in text and "Nightly ETL (Prefect)  [Succeeded]" in text
    assert "Nightly ETL succeeded" in text  # the success push, rendered
    assert "Warehouse load  [Succeeded]" in text
    assert re.search(r"Warehouse load.*\n.*(left|usual)", text), "the time left is shown"
    assert re.search(r"Total time: \d+\.\d s", text)
