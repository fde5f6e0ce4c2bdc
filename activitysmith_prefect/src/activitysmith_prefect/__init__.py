"""ActivitySmith collection for Prefect."""
