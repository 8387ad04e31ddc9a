"""Outputs that appear whole or not at all: written beside their place, then moved in.

A crash or an error part-way leaves the earlier file or folder as it was, never
half of a new one.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
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


# A temporary's name: ``.<final name>.<writer's pid>-<random>.tmp`` (a file or a folder).
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[^.]+\.tmp$")


def temporary_name(final_name: str) -> str:
    """A fresh temporary name for ``final_name``, carrying this process's id (so that a
    later process can tell whether its writer is gone).

    Examples:
        >>> temporary_name("scores.parquet").startswith(f".scores.parquet.{os.getpid()}-")
        True
    """
    return f".{final_name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"


def _writer_is_gone(entry: Path, final_name: str | None = None) -> bool:
    found = _TEMPORARY.match(entry.name)
    if found is None or (final_name is not None and found["name"] != final_name):
        return False
    return not is_running(int(found["pid"]))


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def _remove_dead(entries: Iterable[Path], final_name: str | None = None) -> list[Path]:
    """Delete the temporaries among ``entries`` whose writer died; return them."""
    removed = []
    for entry in entries:
        if _writer_is_gone(entry, final_name):
            _remove(entry)
            removed.append(entry)
    return removed


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporaries of ``path`` left by processes that died (killed
    mid-write); return them."""
    return _remove_dead(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"), path.name)


def sweep_stale_temporaries(root: Path) -> list[Path]:
    """Delete every temporary under ``root`` (at any depth) whose writer died; return them.
    Run by each command that opens the stores, so that a killed run's debris is gone
    after the next command, whichever it is."""
    return _remove_dead(sorted(root.rglob(".*.tmp"))) if root.is_dir() else []


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it only if the block succeeds.

    The folders it had to create are removed again if the block fails, and the
    temporaries of writers that died are cleared first.
    """
    path = Path(path)
    created = _make_parents(path)
    remove_stale_temporaries(path)
    tmp = path.with_name(temporary_name(path.name))
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
    remove_stale_temporaries(path)
    work = path.with_name(temporary_name(path.name))
    work.mkdir()
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
