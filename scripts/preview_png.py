"""Regenerate docs/preview.png: the sandbox page with a representative Lock Screen.

Same code path as the browser test (tests/browser.py).
Run: .venv-core/bin/python scripts/preview_png.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activitysmith_core import ActivitySmith  # noqa: E402
from activitysmith_core.sandbox import Sandbox  # noqa: E402
from tests import browser  # noqa: E402


def main() -> None:
    with Sandbox() as sb, ActivitySmith(sb.api_key, base_url=sb.url) as client:
        browser.populate(client)
        driver = browser.chrome(width=1000, height=980)
        try:
            driver.get(sb.root + "/")
            time.sleep(1.5)
            driver.save_screenshot(str(ROOT / "docs" / "preview.png"))
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
