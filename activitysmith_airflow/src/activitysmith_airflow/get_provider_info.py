"""Provider metadata for Airflow's providers manager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

_INTEGRATION = "ActivitySmith"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "activitysmith-airflow",
        "name": "ActivitySmith",
        "description": "iOS push notifications and Live Activities for DAG runs, via "
        "`ActivitySmith <https://activitysmith.com>`__.",
        "versions": ["0.1.0"],
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
                    "hidden-fields": ["schema", "port", "login", "extra"],
                    "relabeling": {"host": "Base URL", "password": "API key"},
                    "placeholders": {
                        "host": "https://activitysmith.com/api",
                        "password": "ask_...",
                        "channels": "ops, data-team",
                    },
                },
            }
        ],
        "notifications": [
            "activitysmith_airflow.notifications.activitysmith.ActivitySmithNotifier"
        ],
        "plugins": [
            {
                "name": "activitysmith",
                "plugin-class": "activitysmith_airflow.plugins.ActivitySmithPlugin",
            }
        ],
    }
