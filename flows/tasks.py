"""Task decorators shared by the flows.

No task caches: inputs are data frames and models, not worth hashing, and a
rerun of a flow must recompute. Only reads and checks retry (``read_task``):
repeating them is harmless. A task that writes (``write_task``: an MLflow run,
a model version, an alias, a ledger row, a file) runs once; a retry after a
write that succeeded would make a second run or version, or fail on the first
one's result. Bad input never retries: the same file fails the same way.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from churn.errors import ChurnError
from churn.settings import Settings


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
write_task = task(cache_policy=NO_CACHE)
read_task = task(
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_unless_user_error,
)


@read_task
def check_tracking(settings: Settings) -> None:
    """Open the tracking store: one that cannot be reached fails the run before any work
    (an HTTP server is asked once, with a short timeout). What killed runs left (runs
    still RUNNING, temporary files) is cleared."""
    from flows import runs
    from flows.runtime import remove_debris

    runs.check_store(settings.tracking)
    remove_debris(settings)
