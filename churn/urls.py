"""Addresses of stores and servers, as they may be shown to people."""

from __future__ import annotations


def masked(uri: str) -> str:
    """A store URI with any password replaced by ``***``, for messages and tags.

    Examples:
        >>> masked("https://me:s3cret@mlflow.example.com/")
        'https://me:***@mlflow.example.com/'
        >>> masked("sqlite:///mlflow.db")
        'sqlite:///mlflow.db'
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
