"""Stops Prefect's temporary server once the command that started it is gone.

Prefect stops its temporary server at exit, but a command killed by SIGKILL (or
SIGTERM, or leaving through ``os._exit``) runs no exit handler, and the server then
listens forever. The command starts this watchdog beside each server::

    python -I -S server_watchdog.py COMMAND_PID SERVER_PID

Run as a script, with the standard library only, it is up in milliseconds and loads
nothing of the project. It ends with the server, or stops the server when its own
parent, the command, is gone (an orphan is re-parented, so its parent id changes).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

POLL_SECONDS = 0.5
# Prefect's own stop() gives its server 5 s to shut down before killing it.
GRACE_SECONDS = 5.0


def watch_server(command_pid: int, server_pid: int) -> None:
    """Return when the server has ended, stopping it first if the command is gone."""
    while _is_running(server_pid):
        if os.getppid() != command_pid:
            stop_server(server_pid)
            return
        time.sleep(POLL_SECONDS)


def stop_server(pid: int) -> None:
    """SIGTERM (uvicorn shuts down cleanly), then SIGKILL after the grace period."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline:
        if not _is_running(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: it is the command's to handle, and the
    # server stops on it by itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_server(int(sys.argv[1]), int(sys.argv[2]))
