"""A second process for a run's side work (the logistic baseline, the figures).

On two cores the flow's main line is one Python thread for most of a run: a thread
beside it would only take turns with it for the GIL, and matplotlib holds the GIL
while it draws. The side work goes to one worker of loky's reusable executor (the
process pool of joblib, which scikit-learn already installs) on the second core
instead, single-threaded. ``start`` warms it as a run begins, so that its imports
(scikit-learn, matplotlib: about a second) are done before the first call; it then
serves every run of this process and ends with it, even a killed one (or after
``IDLE_SECONDS`` idle).

Measured against doing the work in the flow's own process (inline) at 1 M training
rows, 3 rounds each against a Prefect server: training flow / bare fit 1.59 with the
worker, 1.77 inline, and 1.68 with the hand-built process this replaced
(docs/benchmark.md).

loky's default start method neither imports the caller's ``__main__`` (functions
travel by cloudpickle), so a script that calls a flow without an ``if __name__ ==
"__main__"`` guard runs once. With one core available (affinity and cgroup quota both
count), the work is done in the calling process; so is a call whose worker died.
"""

from __future__ import annotations

import logging
import math
import os
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from joblib.externals.loky import get_reusable_executor
from joblib.externals.loky.process_executor import BrokenProcessPool

T = TypeVar("T")

_log = logging.getLogger(__name__)
# One thread for the side work: the flow's main line and LightGBM have the rest.
_SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# A worker left idle this long ends (a served process's next run starts another).
IDLE_SECONDS = 600


def available_cores() -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup's quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:  # a container's CPU quota (cgroup v2), which affinity does not show
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def _executor() -> Any:
    return get_reusable_executor(
        max_workers=1, timeout=IDLE_SECONDS, env=_SINGLE_THREADED,
        initializer=_end_with, initargs=(os.getpid(),),
    )  # fmt: skip


def _end_with(parent: int) -> None:
    """In the worker: end it as soon as the process that started it is gone. A killed
    command runs no shutdown, and loky's worker would otherwise wait out its idle time."""

    def watch() -> None:
        while os.getppid() == parent:  # re-parented once its parent is gone
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def _warm_up() -> None:
    """What the side work needs, imported while the run loads its data."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import sklearn.calibration
    import sklearn.linear_model
    import sklearn.metrics  # noqa: F401

    import churn.baseline
    import churn.plots  # noqa: F401


def start() -> None:
    """Start the side process now (once per process), so that it has warmed up when needed."""
    if available_cores() >= 2:
        _executor().submit(_warm_up)


def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in the side process (here, with one core); wait for it.

    The function, its arguments and its result travel by pickle; an error there is
    raised here, with the side process's traceback as its cause.
    """
    if available_cores() < 2:
        return function(*args, **kwargs)
    try:
        result: T = _executor().submit(function, *args, **kwargs).result()
    except BrokenProcessPool as exc:  # the worker died (killed, out of memory)
        _log.warning("The side process failed (%s); working in this one.", exc)
        return function(*args, **kwargs)
    return result


def peak_memory_mb() -> float:
    """This process's peak resident memory, MB (called in the side process, its own)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
