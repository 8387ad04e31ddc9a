"""Task decorators shared by the flows.

No task caches: inputs are data frames and models, not worth hashing, and a
rerun of a flow must recompute. Tasks that do I/O retry, except on bad input,
which fails the same way every time.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from churn.errors import ChurnError


def retry_unless_user_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry I/O failures, but not bad input: the same file fails the same way."""
    try:
        state.result()
    except ChurnError:
        return False
    except Exception:
        return True
    return True


compute_task = task(cache_policy=NO_CACHE)
io_task = task(
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_unless_user_error,
)
