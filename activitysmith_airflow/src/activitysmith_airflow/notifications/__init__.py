"""The provider's notifier: a push from any Airflow callback."""
