"""Addresses of stores, servers and databases, as they may be shown to people."""

from __future__ import annotations


def masked(uri: str) -> str:
    """A URI with any password replaced by ``***``, for messages and tags.

    Examples:
        >>> masked("https://me:s3cret@mlflow.example.com/")
        'https://me:***@mlflow.example.com/'
        >>> masked("postgresql+psycopg://churn:p%40ss@db:5432/ledger")
        'postgresql+psycopg://churn:***@db:5432/ledger'
        >>> masked("sqlite:///mlflow.db")
        'sqlite:///mlflow.db'
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return uri
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))
