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
