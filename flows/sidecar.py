"""A second process for a run's side work (the logistic baseline, the figures).

On two cores the flow's main line is one Python thread for most of a run:
a thread beside it would only take turns with it for the GIL, and matplotlib
holds the GIL while it draws. The side process works on the second core
instead. ``start`` launches it as a run begins, so that its imports
(scikit-learn, matplotlib: about a second) are done before the first call;
it then serves every run of this process, one call at a time, and ends with
it.

It is a plain ``python -m flows.sidecar`` child, not a multiprocessing one:
those import the parent's ``__main__`` again, so a script that calls a flow
without an ``if __name__ == "__main__"`` guard would run again inside it.
With one core, or when the process cannot be started or dies, the work is
done in the calling process; so is a call that failed there, which then
raises here with its own traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_process: subprocess.Popen[bytes] | None = None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def start() -> None:
    """Launch the side process now (once per process), so that it has warmed up when needed."""
    global _process
    with _lock:
        if _process is not None and _process.poll() is None:
            return
        if _cores() < 2:
            return
        # This package's own folder, not the working directory (-P), so that a project's
        # own ``flows`` package cannot stand in for this one.
        root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        try:
            _process = subprocess.Popen(
                [sys.executable, "-P", "-m", "flows.sidecar"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError as exc:
            _log.warning("No side process (%s); its work is done in this one.", exc)
            return
        atexit.register(_stop, _process)


def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in the side process (here, without one); wait for it.

    The function, its arguments and its result travel by pickle; a call whose
    function or arguments do not pickle is done here.
    """
    global _process
    start()
    with _lock:
        process = _process
        if process is not None:
            assert process.stdin is not None and process.stdout is not None
            try:
                request = pickle.dumps((function, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # what cannot travel is done here
                return function(*args, **kwargs)
            try:
                process.stdin.write(request)
                process.stdin.flush()
                done, reply = pickle.load(process.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                _log.warning("The side process failed (%r); working in this one.", exc)
                _stop(process)
                _process = None
            except BaseException:
                # Interrupted: its reply would be read as the next call's.
                _stop(process)
                _process = None
                raise
            else:
                if done:
                    result: T = reply
                    return result
                _log.warning("%s failed in the side process:\n%s", function.__name__, reply)
    return function(*args, **kwargs)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the side process at once (no call is under way when this runs)."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    # Not waited for: a run that failed early must not wait for the imports to end.
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer ``(function, args, kwargs)`` with ``(True, result)`` or ``(False, traceback)``."""
    # What the side work needs, imported while the run loads its data.
    import matplotlib.backends.backend_agg  # noqa: F401
    import sklearn.calibration
    import sklearn.linear_model
    import sklearn.metrics  # noqa: F401

    import churn.baseline
    import churn.plots  # noqa: F401

    while True:
        try:
            function, args, kwargs = pickle.load(requests)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, function(*args, **kwargs))
        except Exception:
            reply = (False, traceback.format_exc())
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


if __name__ == "__main__":
    # Ctrl-C in a terminal reaches the whole process group: the flow's process
    # handles it and ends this one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Replies go to the original stdout; anything printed while working goes to stderr.
    _replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(sys.stdin.buffer, _replies)
