"""The core's sandbox for a benchmark: its own process (so that the measured clients do not
share its GIL), on a free loopback port, returned once it answers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx

KEY = "sk_bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(rate_limits: dict[str, int] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """The sandbox process and its URL; ``rate_limits`` overrides its per-minute quotas."""
    port = free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "activitysmith-sandbox")
    limits = ["--rate-limits", json.dumps(rate_limits)] if rate_limits else []
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--api-key", KEY, *limits],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.post(f"{url}/_sandbox/reset", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("sandbox did not start")
