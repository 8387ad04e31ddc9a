"""Kept for models registered before models were plain files: their pickles name
``flows.tracking.ChurnPyfunc``. The tracking code is in ``flows/runs.py`` and
``flows/registry.py``."""

from flows.registry import ChurnPyfunc

__all__ = ["ChurnPyfunc"]
