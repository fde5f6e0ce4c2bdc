"""ActivitySmith provider for Apache Airflow."""
