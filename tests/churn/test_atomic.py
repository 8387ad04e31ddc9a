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


def test_a_sweep_removes_what_dead_writers_left_at_any_depth(tmp_path: Path) -> None:
    import subprocess
    import sys

    from churn.atomic import sweep_stale_temporaries, temporary_name

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    campaign = tmp_path / "outputs" / "c-1"
    campaign.mkdir(parents=True)
    dead_file = campaign / f".scores.parquet.{dead}-0badc0de.tmp"
    dead_file.write_bytes(b"half a parquet")
    dead_folder = tmp_path / f".compiled.{dead}-abc123.tmp"
    (dead_folder / "inner").mkdir(parents=True)
    mine = campaign / temporary_name("campaign.csv")  # this process is alive: writing
    mine.write_text("being written")
    kept = [campaign / "scores.parquet", campaign / ".hidden.tmp", campaign / "x.1-a.tmp"]
    for path in kept:
        path.write_text("not a temporary of ours")

    removed = sweep_stale_temporaries(tmp_path)

    assert sorted(removed) == sorted([dead_file, dead_folder])
    assert not dead_file.exists() and not dead_folder.exists()
    assert mine.exists() and all(path.exists() for path in kept)
    assert sweep_stale_temporaries(tmp_path / "missing") == []


def test_an_atomic_folder_is_written_under_a_name_with_its_writers_pid(tmp_path: Path) -> None:
    import os

    with atomic_folder(tmp_path / "lib") as work:
        assert work.parent == tmp_path
        assert work.name.startswith(f".lib.{os.getpid()}-") and work.name.endswith(".tmp")
