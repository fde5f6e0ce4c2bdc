"""Regenerate the documentation's screenshots of the sandbox page, drawn by the real code:

- docs/preview.png: a representative Lock Screen (every activity type and a push);
- docs/glance.png: tracked runs at a glance (a 200-task DAG folded into 20 segments with the
  time left, a run with a deadline, a folded failure push), drawn by the tracking engine.

The same code paths as the browser tests (tests/browser.py). Needs Chromium and chromedriver.
Run: .venv-core/bin/python scripts/screenshots.py [preview|glance ...]   (default: both)
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activitysmith_core import ActivitySmith  # noqa: E402
from activitysmith_core.sandbox import Sandbox  # noqa: E402
from tests import browser  # noqa: E402

SHOTS: dict[str, tuple[Callable[[Any], None], int]] = {
    "preview": (browser.populate, 980),
    "glance": (lambda client: browser.populate_glance(client, tempfile.mkdtemp()), 900),
}


def shoot(name: str) -> Path:
    """Draw one page on a fresh sandbox and save it as docs/<name>.png."""
    populate, height = SHOTS[name]
    out = ROOT / "docs" / f"{name}.png"
    with Sandbox() as sb, ActivitySmith(sb.api_key, base_url=sb.url) as client:
        populate(client)
        driver = browser.chrome(width=1000, height=height)
        try:
            driver.get(sb.root + "/")
            time.sleep(1.5)
            driver.save_screenshot(str(out))
        finally:
            driver.quit()
    return out


def main(argv: list[str]) -> None:
    for name in argv or list(SHOTS):
        if name not in SHOTS:
            raise SystemExit(f"unknown screenshot {name!r}; choose from {', '.join(SHOTS)}")
        print(shoot(name))


if __name__ == "__main__":
    main(sys.argv[1:])
