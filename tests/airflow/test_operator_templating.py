"""Templated connection ids and JSON renderers on every operator, run for real with dag.test()."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from activitysmith_airflow.notifications.activitysmith import ActivitySmithNotifier
from activitysmith_airflow.operators import activitysmith as ops

from .conftest import DAGS_FOLDER, conn_json, load_dag, pushes

OPERATORS = [
    ops.ActivitySmithPushOperator,
    ops.ActivitySmithStreamOperator,
    ops.ActivitySmithEndStreamOperator,
    ops.ActivitySmithStartOperator,
    ops.ActivitySmithUpdateOperator,
    ops.ActivitySmithEndOperator,
]
DICT_FIELDS = {"content_state", "action", "secondary_action", "alert", "metadata", "payload"}

# Every operator and the notifier take their connection from a template: the DAG's param
# `phone` (overridden by the run's conf), or the `phone_conn` Variable.
DAG_SOURCE = """
from __future__ import annotations

import pendulum
from airflow.sdk import dag

import activitysmith_airflow as asm

CONN = "{{ params.phone }}"
AID = "{{ ti.xcom_pull(task_ids='start', key='activity_id') }}"


@dag(
    dag_id="t_templated_conn",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"phone": "activitysmith_default"},
    on_success_callback=asm.ActivitySmithNotifier(
        title="{{ dag.dag_id }} done", activitysmith_conn_id="{{ var.value.phone_conn }}"
    ),
)
def t_templated_conn() -> None:
    cs = {"title": "Templated", "type": "segmented_progress", "number_of_steps": 2}
    (
        asm.ActivitySmithPushOperator(
            task_id="push",
            title="via {{ params.phone }}",
            metadata={"conn": "{{ params.phone }}"},
            tags=["push-{{ params.phone }}"],
            activitysmith_conn_id=CONN,
        )
        >> asm.ActivitySmithStreamOperator(
            task_id="stream",
            stream_key="templated-{{ ds_nodash }}",
            content_state={**cs, "current_step": 1},
            tags=["stream-{{ params.phone }}"],
            metadata={"conn": "{{ params.phone }}"},
            activitysmith_conn_id=CONN,
        )
        >> asm.ActivitySmithEndStreamOperator(
            task_id="end_stream",
            stream_key="templated-{{ ds_nodash }}",
            content_state={**cs, "current_step": 2},
            activitysmith_conn_id=CONN,
        )
        >> asm.ActivitySmithStartOperator(
            task_id="start", content_state={**cs, "current_step": 0}, activitysmith_conn_id=CONN
        )
        >> asm.ActivitySmithUpdateOperator(
            task_id="update",
            activity_id=AID,
            content_state={"title": "Templated", "current_step": 1},
            activitysmith_conn_id=CONN,
        )
        >> asm.ActivitySmithEndOperator(
            task_id="end",
            activity_id=AID,
            content_state={"title": "Templated", "current_step": 2},
            activitysmith_conn_id=CONN,
        )
    )


t_templated_conn()
"""


@pytest.mark.parametrize("operator", OPERATORS, ids=lambda o: o.__name__)
def test_conn_id_is_templated_and_dicts_render_as_json(operator: type[Any]) -> None:
    assert "activitysmith_conn_id" in operator.template_fields
    assert len(set(operator.template_fields)) == len(operator.template_fields)
    renderers = operator.template_fields_renderers
    assert set(renderers) <= set(operator.template_fields)
    assert {f for f in operator.template_fields if f in DICT_FIELDS} <= set(renderers)
    assert set(renderers.values()) == {"json"}


def test_notifier_conn_id_is_templated() -> None:
    assert "activitysmith_conn_id" in ActivitySmithNotifier.template_fields


@pytest.fixture
def templated_dag(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The DAG above; `activitysmith_default` holds a wrong key, `my_phone` the sandbox's."""
    path = DAGS_FOLDER / "t_templated_conn.py"
    path.write_text(DAG_SOURCE)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ACTIVITYSMITH_DEFAULT",
        json.dumps({"conn_type": "activitysmith", "password": "ask_wrong", "host": sandbox.url}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_MY_PHONE", conn_json(sandbox))
    monkeypatch.setenv("AIRFLOW_VAR_PHONE_CONN", "my_phone")
    try:
        yield load_dag("t_templated_conn")
    finally:
        path.unlink()


def test_templated_conn_id_in_a_real_run(sandbox: Any, templated_dag: Any) -> None:
    dr = templated_dag.test(run_conf={"phone": "my_phone"})
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    reqs = [(r.method, r.path.split("/api", 1)[1], r.status) for r in sandbox.requests]
    assert [m for m, _, _ in reqs] == ["POST", "PUT", "DELETE", "POST", "POST", "POST", "POST"]
    assert all(status == 200 for _, _, status in reqs), reqs  # no 401: never the default conn
    push, notified = pushes(sandbox)
    assert push["title"] == "via my_phone" and push["metadata"] == {"conn": "my_phone"}
    assert push["tags"] == ["push-my_phone"]  # the fields every request carries, templated
    stream = sandbox.requests[1].body
    assert stream["tags"] == ["stream-my_phone"] and stream["metadata"] == {"conn": "my_phone"}
    assert notified["title"] == "t_templated_conn done"
    rendered = {ti.task_id: ti for ti in dr.get_task_instances()}
    assert set(rendered) == {"push", "stream", "end_stream", "start", "update", "end"}
    assert all(ti.state == "success" for ti in rendered.values())


def test_without_run_conf_the_params_default_is_used(sandbox: Any, templated_dag: Any) -> None:
    """The param's default connection holds a wrong key: the first operator fails on a 401."""
    dr = templated_dag.test()
    assert str(getattr(dr.state, "value", dr.state)) == "failed"
    assert sandbox.requests and sandbox.requests[0].status == 401
