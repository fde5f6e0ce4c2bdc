"""The provider's operators: pushes and Live Activities sent from a DAG on purpose."""
