"""Prefect flows: wiring, schedules, and the one place that talks to MLflow."""
