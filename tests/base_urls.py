"""The base-URL cases every caller of ``activitysmith_core.check_base_url`` is tested with."""

from __future__ import annotations

# (url, accepted): https anywhere; plain http only to a loopback host; nothing else.
BASE_URL_RULE: list[tuple[str, bool]] = [
    ("https://example.com/api", True),
    ("http://127.0.0.1:8787/api", True),
    ("http://127.9.9.9/api", True),
    ("http://localhost:1/api", True),
    ("http://sandbox.localhost/api", True),
    ("http://[::1]:1/api", True),
    ("http://example.com/api", False),
    ("http://10.0.0.1/api", False),
    ("http://127.0.0.1.example.com/api", False),
    ("http://localhost.example.com/api", False),
    ("ftp://127.0.0.1/api", False),
]
