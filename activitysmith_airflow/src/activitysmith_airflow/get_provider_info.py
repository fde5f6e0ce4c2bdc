"""Provider metadata for Airflow's providers manager (entry point ``apache_airflow_provider``).

The version comes from the installed distribution's metadata, so ``pyproject.toml`` is its only
source. ``config`` declares the ``[activitysmith]`` section: Airflow shows it in
``airflow config list`` and serves its defaults to ``conf.get("activitysmith", ...)``.
``db-managers`` puts the provider's tables under ``airflow db migrate`` / ``reset``.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

_INTEGRATION = "ActivitySmith"
DISTRIBUTION = "activitysmith-airflow"
DB_MANAGER = "activitysmith_airflow.db_manager.ActivitySmithDBManager"
"""Found by Airflow 3.2+ (``db-managers``); on 3.1 named in ``[database] external_db_managers``."""


HIDDEN_FIELDS = ("schema", "port", "login", "extra")
RELABELING = {"host": "Base URL", "password": "API key"}
"""The connection form's shape, for Airflow 3.2+ (here) and 3.1 (the hook's method)."""


def placeholders() -> dict[str, str]:
    """The connection form's placeholders (the default base URL among them)."""
    from activitysmith_core._constants import DEFAULT_BASE_URL

    return {"host": DEFAULT_BASE_URL, "password": "ask_...", "channels": "ops, data-team"}


def _option(kind: str, default: str, example: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "version_added": None,
        "type": kind,
        "example": example,
        "default": default,
    }


CONFIG: dict[str, Any] = {
    "activitysmith": {
        "description": "ActivitySmith provider: how DAGs carrying the tag are tracked (a "
        "tracker built in a DAG file takes the same options as arguments).",
        "options": {
            "disabled": _option(
                "boolean",
                "False",
                "True",
                "The off switch: while True, no run starts being tracked (declared trackers, "
                "the tag listener, groups and backfills); runs already being written go on to "
                "their end. Read at each run's start, from ``AIRFLOW__ACTIVITYSMITH__DISABLED`` "
                "or airflow.cfg (re-read when it changes), so no restart is needed.",
            ),
            "tag": _option(
                "string",
                "activitysmith",
                "phone",
                "DAGs carrying this tag are tracked by the provider's listener, with no code "
                "change: each run becomes a Live Activity and a final task failure a push.",
            ),
            "conn_id": _option(
                "string",
                "activitysmith_default",
                "my_phone",
                "Connection (type ``activitysmith``) the listener sends with.",
            ),
            "granularity": _option(
                "string",
                "task",
                "task_group",
                "What one segment of the Live Activity stands for: ``task`` (one per task, a "
                "mapped task being one) or ``task_group`` (one per top-level task group).",
            ),
            "deadline": _option(
                "float",
                "10",
                "20",
                "Seconds that the one flush when a process ends may take, in total, for "
                "everything still queued (final states and pushes); at most 300. What is not "
                "delivered by then is kept on disk for the next process.",
            ),
            "interval": _option(
                "float",
                "2",
                "5",
                "Fewest seconds between two updates of one Live Activity. A newer state of "
                "the run replaces one still waiting, so a busy run sends its latest state, "
                "not every intermediate one.",
            ),
            "push_window": _option(
                "float",
                "5",
                "10",
                "Seconds a failure push waits so that failures of one run close together are "
                "folded into one push naming them; 0 pushes each failure at once.",
            ),
            "group_linger": _option(
                "float",
                "300",
                "600",
                "Seconds a group's activity stays open after its last run ended, for a new run "
                "to join; after that the next run of the group opens a new activity. Tag a DAG "
                "'activitysmith-group:<name>' (or pass group=... to the tracker) to put it in "
                "a group.",
            ),
        },
    }
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # a source tree that is not installed
        return "0+unknown"


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager reads; validated against ``provider_info.schema.json``."""
    return {
        "package-name": "activitysmith-airflow",
        "name": "ActivitySmith",
        "description": "iOS push notifications and Live Activities for DAG runs, via "
        "`ActivitySmith <https://activitysmith.com>`__.",
        "versions": [_version()],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://activitysmith.com/docs",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["activitysmith_airflow.hooks.activitysmith"],
            }
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["activitysmith_airflow.operators.activitysmith"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "activitysmith",
                "hook-class-name": "activitysmith_airflow.hooks.activitysmith.ActivitySmithHook",
                "hook-name": "ActivitySmith",
                "conn-fields": {
                    "channels": {
                        "label": "Default channels",
                        "schema": {"type": ["string", "null"]},
                        "description": "Comma-separated channel slugs used when a call names "
                        "none; empty means every device the key may reach.",
                    },
                    "timeout": {
                        "label": "Request timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 10},
                    },
                    "max_attempts": {
                        "label": "Attempts per call",
                        "schema": {"type": ["integer", "null"], "default": 4},
                    },
                    "retry_budget": {
                        "label": "Retry budget (s)",
                        "schema": {"type": ["number", "null"], "default": 30},
                        "description": "Total time one call may take, retries included.",
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": list(HIDDEN_FIELDS),
                    "relabeling": dict(RELABELING),
                    "placeholders": placeholders(),
                },
            }
        ],
        "notifications": [
            "activitysmith_airflow.notifications.activitysmith.ActivitySmithNotifier"
        ],
        "config": deepcopy(CONFIG),
        "db-managers": [DB_MANAGER],
        "plugins": [
            {
                "name": "activitysmith",
                "plugin-class": "activitysmith_airflow.plugins.ActivitySmithPlugin",
            }
        ],
    }
