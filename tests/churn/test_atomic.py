"""Folders that appear whole or not at all."""

from pathlib import Path

import pytest

from churn.atomic import atomic_folder


def test_a_finished_folder_replaces_the_earlier_one(tmp_path: Path) -> None:
    target = tmp_path / "lib"
    target.mkdir()
    (target / "old.txt").write_text("earlier")
    with atomic_folder(target) as work:
        (work / "new.txt").write_text("now")
        assert not (target / "new.txt").exists()  # not before the block ends
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["lib"]


def test_a_failure_leaves_the_earlier_folder_and_no_debris(tmp_path: Path) -> None:
    target = tmp_path / "lib"
    target.mkdir()
    (target / "old.txt").write_text("earlier")
    with pytest.raises(RuntimeError, match="half way"), atomic_folder(target) as work:
        (work / "new.txt").write_text("half")
        raise RuntimeError("half way")
    assert (target / "old.txt").read_text() == "earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["lib"]


def test_keep_existing_keeps_what_another_process_made_first(tmp_path: Path) -> None:
    target = tmp_path / "lib"
    with atomic_folder(target, keep_existing=True) as work:
        (work / "mine.txt").write_text("mine")
        target.mkdir()
        (target / "theirs.txt").write_text("theirs")
    assert [p.name for p in target.iterdir()] == ["theirs.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["lib"]


def test_a_failed_write_removes_the_folders_it_created(tmp_path: Path) -> None:
    from churn.atomic import atomic_path

    target = tmp_path / "outputs" / "campaigns" / "c1" / "scores.parquet"
    with pytest.raises(ValueError, match="bad row"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise ValueError("bad row")
    assert list(tmp_path.iterdir()) == []
    # A folder that was there before, with a file in it, stays.
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "old.csv").write_text("earlier")
    with pytest.raises(ValueError), atomic_path(tmp_path / "keep" / "new" / "x.csv"):
        raise ValueError("bad row")
    assert [p.name for p in (tmp_path / "keep").iterdir()] == ["old.csv"]


def test_temporaries_of_a_killed_writer_are_cleared_by_the_next(tmp_path: Path) -> None:
    import subprocess
    import sys

    from churn.atomic import atomic_path

    target = tmp_path / "scores.parquet"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    left = tmp_path / f".scores.parquet.{dead.stdout.strip()}-0badc0de.tmp"
    left.write_bytes(b"x" * 1000)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        writing = tmp_path / f".scores.parquet.{alive.pid}-00c0ffee.tmp"
        writing.write_bytes(b"y")
        with atomic_path(target) as tmp:
            tmp.write_text("scores")
        assert not left.exists()  # its writer is gone
        assert writing.exists()  # its writer may still be writing
    finally:
        alive.kill()
        alive.wait()
    assert target.read_text() == "scores"
