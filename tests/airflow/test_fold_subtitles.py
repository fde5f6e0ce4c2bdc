"""A 31-task DAG folded into 20 segments under ``dag.test()``: every subtitle names the running
tasks, never the folded buckets, and the mapped task reads ``work`` or ``work ×N``."""

from __future__ import annotations

import re
from typing import Any

from .conftest import load_dag, stream_bodies

_COUNT = re.compile(r" (×\d+|\+\d+)$")


def _named(subtitle: str) -> list[str]:
    """The task names a "Running a, b ×3 +2 · clock" subtitle shows."""
    text = subtitle.split(" · ", 1)[0].split(" ", 1)[1]
    names = []
    for part in text.split(", "):
        while _COUNT.search(part):
            part = _COUNT.sub("", part)
        names.append(part)
    return names


def test_every_subtitle_names_running_tasks(airflow_sandbox: Any) -> None:
    dag = load_dag("t_fold31")
    assert len(dag.task_ids) == 31
    dag.test()
    states = [cs for _, cs in stream_bodies(airflow_sandbox)]
    subtitles = [str(cs["subtitle"]) for cs in states]
    print(*subtitles, sep="\n")
    assert {cs["number_of_steps"] for cs in states} == {20}, "folded from the first update"
    assert all(len(s) <= 60 and "+1 +1" not in s for s in subtitles), subtitles
    running = [s for s in subtitles if s.startswith(("Running ", "Retrying "))]
    assert len(running) >= 10, subtitles
    for subtitle in running:
        assert set(_named(subtitle)) <= set(dag.task_ids), subtitle
    assert any(re.fullmatch(r"Running work( ×\d+)?", s) for s in running), running
    assert any(re.fullmatch(r"Running load_part_\d\d", s) for s in running), running
    final = states[-1]
    assert final["subtitle"] == "Succeeded · 20/20 done"
    assert final["step_colors"] == ["green"] * 20
