"""Provider registration, the connection (URI, JSON, UI fields), the hook, and secrecy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from activitysmith_airflow.get_provider_info import get_provider_info
from activitysmith_airflow.hooks.activitysmith import ActivitySmithHook, base_url_from
from activitysmith_core.errors import ConfigurationError
from tests.base_urls import BASE_URL_RULE

from .conftest import AIRFLOW_32, conn_json

AIRFLOW = [sys.executable, "-m", "airflow"]


def test_provider_info_validates_against_airflows_schema() -> None:
    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == "activitysmith"
    custom = json.loads(
        (Path(airflow.__file__).parent / "customized_form_field_behaviours.schema.json").read_text()
    )
    behaviour = conn["ui-field-behaviour"]
    jsonschema.validate(
        {
            "hidden_fields": behaviour["hidden-fields"],
            "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"],
        },
        custom,
    )
    jsonschema.validate(ActivitySmithHook.get_ui_field_behaviour(), custom)


def _cli(*args: str, **env: str) -> str:
    out = subprocess.run(
        [*AIRFLOW, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


SRC = Path(__file__).resolve().parents[2] / "activitysmith_airflow" / "src"
# The options the provider reads by name: `conf_value("x", ...)`, `_conf("x", ...)` or
# `conf.get*("activitysmith", "x", ...)`; the names read in a loop are in OPTIONS.
_READS = re.compile(r"""(?:\w*conf\w*\(|conf\.get\w*\(\s*["']activitysmith["'],\s*)["'](\w+)["']""")
OPTIONS = {"tag", "conn_id", "granularity", "deadline", "interval", "push_window"}


def test_provider_declares_every_option_it_reads() -> None:
    read = {m for f in SRC.rglob("*.py") for m in _READS.findall(f.read_text())}
    assert {"tag", "conn_id", "granularity"} <= read
    section = get_provider_info()["config"]["activitysmith"]
    assert section["description"]
    options = section["options"]
    assert read | OPTIONS <= set(options), sorted(read | OPTIONS - set(options))
    for name, option in options.items():
        assert option["description"] and option["example"] is not None, name
        assert isinstance(option["default"], str), name  # Airflow's providers use strings
        if option["type"] == "float":
            assert float(option["default"]) > 0 and float(option["example"]) > 0, name
    assert {n for n, o in options.items() if o["type"] == "float"} >= {
        "deadline",
        "interval",
        "push_window",
    }
    assert options["deadline"]["default"] == "10" and options["interval"]["default"] == "2"
    assert options["push_window"]["default"] == "5"


def test_airflow_config_lists_the_section_with_defaults(tmp_path: Path) -> None:
    home = {"AIRFLOW_HOME": str(tmp_path)}
    values = ["--show-values"] if AIRFLOW_32 else []  # 3.1 shows the values by default
    out = _cli("config", "list", "--defaults", *values, "--section", "activitysmith", **home)
    assert "[activitysmith]" in out
    defaults = {
        "tag": "activitysmith",
        "conn_id": "activitysmith_default",
        "granularity": "task",
        "deadline": "10",
        "interval": "2",
        "push_window": "5",
    }
    for name, default in defaults.items():
        assert f"# {name} = {default}\n" in out, name
        assert f"AIRFLOW__ACTIVITYSMITH__{name.upper()}" in out
    # Airflow serves the declared defaults to conf.get, and the environment overrides them.
    assert _cli("config", "get-value", "activitysmith", "deadline", **home).strip() == "10"
    env = {**home, "AIRFLOW__ACTIVITYSMITH__INTERVAL": "0.5"}
    assert _cli("config", "get-value", "activitysmith", "interval", **env).strip() == "0.5"


def test_versions_come_from_package_metadata() -> None:
    import activitysmith_airflow
    import activitysmith_core

    installed = version("activitysmith-airflow")
    assert get_provider_info()["versions"] == [installed]
    assert activitysmith_airflow.__version__ == installed
    assert activitysmith_core.__version__ == version("activitysmith-core")
    # pyproject.toml is the one place a version is written: no literal in any package's source.
    literal = re.compile(
        r"""(?:__version__\s*(?::\s*str\s*)?=|versions["']:\s*\[)\s*["']\d+\.\d+"""
    )
    roots = [SRC, *(SRC.parents[1] / d / "src" for d in ("core", "activitysmith_prefect"))]
    assert all(root.is_dir() for root in roots)
    assert not [f for r in roots for f in r.rglob("*.py") if literal.search(f.read_text())]


def test_reading_the_version_stays_light() -> None:
    code = (
        "import sys, activitysmith_airflow as a; a.__version__; "
        "print(sorted(m for m in ('airflow', 'httpx', 'pydantic', 'activitysmith_core') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_airflow_lists_the_provider_hook_notifier_and_plugin() -> None:
    providers = json.loads(_cli("providers", "list", "--output", "json"))
    assert any(p["package_name"] == "activitysmith-airflow" for p in providers)
    hooks = json.loads(_cli("providers", "hooks", "--output", "json"))
    assert any(
        h.get("connection_type") == "activitysmith" and h.get("class").endswith("ActivitySmithHook")
        for h in hooks
    ), hooks
    notes = _cli("providers", "notifications", "--output", "json")
    assert "activitysmith_airflow.notifications.activitysmith.ActivitySmithNotifier" in notes
    assert "activitysmith" in _cli("plugins", "--output", "json")


@pytest.mark.parametrize(
    ("host", "port", "schema", "url"),
    [
        (None, None, None, "https://activitysmith.com/api"),
        ("activitysmith.com", None, "api", "https://activitysmith.com/api"),
        ("https://eu.example.com/api/", None, None, "https://eu.example.com/api"),
        ("127.0.0.1", 8787, "api", "http://127.0.0.1:8787/api"),
        ("localhost", 9, None, "http://localhost:9/api"),
    ],
)
def test_base_url_from_connection_fields(host: Any, port: Any, schema: Any, url: str) -> None:
    assert base_url_from(host, port, schema) == url


def test_connection_from_json_env(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ACTIVITYSMITH_DEFAULT",
        conn_json(sandbox, channels="ops, data", timeout=3, max_attempts=2),
    )
    hook = ActivitySmithHook()
    assert hook.base_url == sandbox.url
    assert hook.channels == ["ops", "data"]
    client = hook.get_conn()
    assert client.timeout == 3 and client.retry.max_attempts == 2
    client.notifications.send(title="hello")
    assert sandbox.requests[-1].body["target"] == {"channels": ["ops", "data"]}
    assert sandbox.api_key not in repr(hook) + repr(client)


def test_connection_from_uri_env(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    port = sandbox.url.split(":")[2].split("/")[0]
    monkeypatch.setenv(
        "AIRFLOW_CONN_MY_PHONE",
        f"activitysmith://:{sandbox.api_key}@127.0.0.1:{port}/api?channels=ops",
    )
    hook = ActivitySmithHook(activitysmith_conn_id="my_phone")
    assert hook.base_url == sandbox.url and hook.channels == ["ops"]
    ok, message = hook.test_connection()
    assert ok and "nothing was sent to any device" in message
    assert sandbox.pushes == [] and sandbox.activities == {}
    assert [r.status for r in sandbox.requests] == [404]


def test_test_connection_reports_a_bad_key(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ACTIVITYSMITH_DEFAULT",
        json.dumps(
            {"conn_type": "activitysmith", "password": "ask_wrong_key", "host": sandbox.url}
        ),
    )
    ok, message = ActivitySmithHook().test_connection()
    assert not ok and "rejected the API key" in message and "ask_wrong_key" not in message


def test_missing_key_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ACTIVITYSMITH_DEFAULT",
        json.dumps({"conn_type": "activitysmith", "host": "127.0.0.1"}),
    )
    with pytest.raises(ValueError, match="^password: "):
        ActivitySmithHook().get_conn()


def test_connection_form_for_airflow_31() -> None:
    widgets = ActivitySmithHook.get_connection_form_widgets()
    assert widgets == {} or set(widgets) == {"channels", "timeout", "max_attempts", "retry_budget"}
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert set(fields) == {"channels", "timeout", "max_attempts", "retry_budget"}


def test_key_is_masked_and_never_logged(airflow_sandbox: Any) -> None:
    """The key is registered with Airflow's masker (which the task supervisor applies to task
    logs) and never written by the provider itself, even in ``dags test`` (which masks nothing)."""
    log = ""
    for dag_id in ("t_leaky", "activitysmith_failing"):
        out = subprocess.run(
            [*AIRFLOW, "dags", "test", dag_id],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            timeout=300,
        )
        log += out.stdout + out.stderr
        assert dag_id == "activitysmith_failing" or out.returncode == 0, log[-3000:]
    assert "masker says: the key is ***" in log
    assert airflow_sandbox.api_key not in log
    assert len(airflow_sandbox.pushes) == 2


@pytest.mark.parametrize(("url", "accepted"), BASE_URL_RULE)
def test_the_hook_follows_the_one_base_url_rule(url: str, accepted: bool) -> None:
    if accepted:
        assert base_url_from(url) == url
        return
    with pytest.raises(ConfigurationError, match="^base_url: "):
        base_url_from(url)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1.example.com", "https://127.0.0.1.example.com/api"),
        ("localhost.example.com", "https://localhost.example.com/api"),
        ("sandbox.localhost:9", "http://sandbox.localhost:9/api"),
        ("[::1]", "http://[::1]/api"),
    ],
)
def test_a_bare_host_gets_http_only_if_loopback(host: str, url: str) -> None:
    assert base_url_from(host, None, None) == url
