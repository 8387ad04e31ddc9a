"""The churn ML library: data, validation, features, training, evaluation, scoring.

Plain functions and small classes; nothing here knows about Prefect or MLflow.
"""
