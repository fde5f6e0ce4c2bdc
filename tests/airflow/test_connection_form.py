"""The connection form on every supported Airflow (3.1 with the FAB provider's Flask form, 3.2+
from ``conn-fields``): every ActivitySmith field is there, and a bad number typed into one of
the text fields is a clear error naming it, before any network call."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from activitysmith_airflow.hooks.activitysmith import ActivitySmithHook

FIELDS = ("channels", "timeout", "max_attempts", "retry_budget")


def test_every_field_is_in_the_form(caplog: pytest.LogCaptureFixture) -> None:
    from airflow.providers_manager import ProvidersManager

    with caplog.at_level(logging.WARNING):
        widgets = ProvidersManager().connection_form_widgets
    ours = {name for name in widgets if "activitysmith" in name}
    assert ours == {f"extra__activitysmith__{field}" for field in FIELDS}
    assert "unsupported class" not in caplog.text


def _hook(monkeypatch: pytest.MonkeyPatch, **extra: Any) -> ActivitySmithHook:
    conn = {"conn_type": "activitysmith", "password": "ask_secret_key", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_FORM_TEST", json.dumps(conn))
    return ActivitySmithHook(activitysmith_conn_id="form_test")


def test_numbers_typed_as_text_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = _hook(
        monkeypatch,
        extra__activitysmith__timeout=" 2.5 ",
        extra__activitysmith__max_attempts="3",
        extra__activitysmith__retry_budget="12",
    )._client_kwargs()
    assert kwargs["timeout"] == 2.5
    assert kwargs["retry"].max_attempts == 3
    assert kwargs["retry"].budget == 12.0


@pytest.mark.parametrize(
    ("field", "value"),
    [("timeout", "ten"), ("retry_budget", "-1"), ("max_attempts", "2.5"), ("timeout", "0")],
)
def test_a_bad_number_names_its_field(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    hook = _hook(monkeypatch, **{f"extra__activitysmith__{field}": value})
    with pytest.raises(ValueError, match=f"^{field}: ") as err:
        hook._client_kwargs()
    assert "ask_secret_key" not in str(err.value)
