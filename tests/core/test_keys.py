from __future__ import annotations

import re

import pytest

from activitysmith_core import stream_key

PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def test_deterministic_readable_and_distinct() -> None:
    key = stream_key("airflow", "etl", "manual__2026-11-22T15:00:00+00:00")
    assert key == stream_key("airflow", "etl", "manual__2026-11-22T15:00:00+00:00")
    assert key.startswith("airflow_etl_manual__2026-11-22t15-00-00-00-00-")
    assert PATTERN.match(key)
    others = {
        stream_key("a", "b:c"),
        stream_key("a", "b+c"),
        stream_key("a", "b.c"),
        stream_key("a:b", "c"),
        stream_key("a", "B:c"),
    }
    assert len(others) == 5


@pytest.mark.parametrize("text", ["", "🚀🚀", "\x00\x1f", "/" * 600, "é" * 300, "a" * 1000])
def test_hostile_parts(text: str) -> None:
    key = stream_key("prefect", text, text)
    assert PATTERN.match(key), key
    assert len(key) <= 255


def test_rejects_nothing() -> None:
    with pytest.raises(ValueError, match="stream_key"):
        stream_key()
