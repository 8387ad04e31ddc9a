"""A second process for a run's side work (the logistic baseline, the figures).

On two cores the flow's main line is one Python thread for most of a run:
a thread beside it would only take turns with it for the GIL, and matplotlib
holds the GIL while it draws. The side process works on the second core
instead (one thread: its BLAS is single-threaded). ``start`` launches it as a
run begins, so that its imports (scikit-learn, matplotlib: about a second)
are done before the first call; it then serves every run of this process,
one call at a time, and ends with it. Each process that runs flows (a pytest
worker, a served flow run's process) has its own.

It is a plain ``python -m flows.sidecar`` child, not a multiprocessing one:
those import the parent's ``__main__`` again, so a script that calls a flow
without an ``if __name__ == "__main__"`` guard would run again inside it.
With one core available (affinity and cgroup quota both count), or when the
process cannot be started or dies, the work is done in the calling process;
so is a call that failed there, which then raises here with its own
traceback, and a call that cannot travel (a function of ``__main__``,
arguments that do not pickle).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import pickle
import signal
import struct
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
_HEADER = struct.Struct("!Q")  # each message: its length, then its pickle
# One thread for the side work: the flow's main line and LightGBM have the rest.
_SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _cores() -> int:
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
                env={**os.environ, **_SINGLE_THREADED, "PYTHONPATH": path},
            )
        except OSError as exc:
            _log.warning("No side process (%s); its work is done in this one.", exc)
            return
        atexit.unregister(_stop_at_exit)  # one hook, however often the process restarts
        atexit.register(_stop_at_exit)


def process_id() -> int | None:
    """The side process's id while one runs (to watch it, e.g. its memory)."""
    process = _process
    return process.pid if process is not None and process.poll() is None else None


def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in the side process (here, without one); wait for it.

    The function, its arguments and its result travel by pickle.
    """
    global _process
    start()
    name = getattr(function, "__qualname__", repr(function))
    with _lock:
        process = _process
        request = None
        if process is not None and getattr(function, "__module__", None) != "__main__":
            # The side process's __main__ is this module, not the caller's.
            with contextlib.suppress(Exception):  # what cannot travel is done here
                request = pickle.dumps((function, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        if process is not None and request is not None:
            assert process.stdin is not None and process.stdout is not None
            try:
                _write(process.stdin, request)
                done, reply = pickle.loads(_read(process.stdout))
            except Exception as exc:  # died, or its reply does not unpickle here
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
                _log.warning("%s failed in the side process:\n%s", name, reply)
    return function(*args, **kwargs)


def _write(stream: IO[bytes], message: bytes) -> None:
    stream.write(_HEADER.pack(len(message)))
    stream.write(message)
    stream.flush()


def _read(stream: IO[bytes]) -> bytes:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the side process closed its end")
    (size,) = _HEADER.unpack(header)
    message = stream.read(size)
    if len(message) < size:
        raise EOFError("the side process closed its end mid-message")
    return message


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


def _stop_at_exit() -> None:
    if _process is not None:
        _stop(_process)


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
            message = _read(requests)
        except EOFError:
            return
        try:
            function, args, kwargs = pickle.loads(message)
            reply = pickle.dumps((True, function(*args, **kwargs)), pickle.HIGHEST_PROTOCOL)
        except Exception:
            reply = pickle.dumps((False, traceback.format_exc()), pickle.HIGHEST_PROTOCOL)
        try:
            _write(replies, reply)
        except BrokenPipeError:  # the flow's process is gone
            return


if __name__ == "__main__":
    # Ctrl-C in a terminal reaches the whole process group: the flow's process
    # handles it and ends this one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Replies go to the original stdout; anything printed while working goes to stderr.
    _replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(sys.stdin.buffer, _replies)
