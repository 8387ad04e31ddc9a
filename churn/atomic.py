"""Outputs that appear whole or not at all: written beside their place, then moved in.

A crash or an error part-way leaves the earlier file or folder as it was, never
half of a new one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


def _make_parents(path: Path) -> list[Path]:
    """Create the missing folders above ``path``; return them, deepest first."""
    missing = []
    for parent in path.parents:
        if parent.exists():
            break
        missing.append(parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    """Remove the folders a failed write created, if nothing else was put in them."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def is_running(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files of ``path`` left by processes that died (killed
    mid-write); return them. A temporary's name carries its writer's pid."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 :].split("-", 1)[0]
        if pid.isdigit() and not is_running(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it only if the block succeeds.

    The folders it had to create are removed again if the block fails, and the
    temporaries of writers that died are cleared first.
    """
    path = Path(path)
    created = _make_parents(path)
    remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        _remove_if_empty(created)
        raise
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(path: Path, *, keep_existing: bool = False) -> Iterator[Path]:
    """A temporary folder beside ``path`` that becomes ``path`` only if the block succeeds.

    An earlier folder at ``path`` is replaced; with ``keep_existing`` it is kept
    instead (another process made the same one first) and the new one dropped.
    """
    path = Path(path)
    created = _make_parents(path)
    work = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    try:
        yield work
        if path.is_dir() and keep_existing:
            return
        if path.exists():
            shutil.rmtree(path)
        work.rename(path)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        _remove_if_empty(created)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
