"""Regenerate docs/glance.png: what a tracked run looks like at a glance on the sandbox page.

Three runs drawn by the real engine (activitysmith_core.tracking): a 200-task DAG folded into
20 segments with the time left, a run with a deadline, and a folded failure push.
Run: .venv-core/bin/python scripts/glance_png.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activitysmith_core import ActivitySmith  # noqa: E402
from activitysmith_core.sandbox import Sandbox  # noqa: E402
from tests import browser  # noqa: E402


def main() -> None:
    with Sandbox() as sb, ActivitySmith(sb.api_key, base_url=sb.url) as client:
        browser.populate_glance(client, tempfile.mkdtemp(prefix="glance-"))
        driver = browser.chrome(width=1000, height=900)
        try:
            driver.get(sb.root + "/")
            time.sleep(1.5)
            driver.save_screenshot(str(ROOT / "docs" / "glance.png"))
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
