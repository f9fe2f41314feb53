from __future__ import annotations

import os
import stat
from pathlib import Path
from unittest.mock import patch

import pytest

from coat_tf.fileio import (
    atomic_directory,
    atomic_numbered_directory,
    atomic_write_text,
    remove_stale_temporaries,
)


def _mode(path) -> int:  # noqa: ANN001
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_file_has_ordinary_permissions(tmp_path) -> None:
    mask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.txt").read_text() == "x"
    assert _mode(tmp_path / "a.txt") == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_directory_appears_whole_or_not_at_all(tmp_path) -> None:
    mask = os.umask(0o022)
    try:
        _check_atomic_directory(tmp_path)
    finally:
        os.umask(mask)


def _check_atomic_directory(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "out") as tmp:
        (tmp / "half").write_text("x")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_directory(tmp_path / "out") as tmp:
        (tmp / "whole").write_text("x")
    assert (tmp_path / "out" / "whole").is_file()
    assert _mode(tmp_path / "out") == 0o755
    with pytest.raises(FileExistsError), atomic_directory(tmp_path / "out"):
        pass
    with atomic_directory(tmp_path / "out", overwrite=True) as tmp:
        (tmp / "new").write_text("y")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["new"]


def _dead_pid() -> int:
    """The id of a process that has exited."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_dead_processes_are_removed(tmp_path) -> None:
    from coat_tf.fileio import _HOST

    dead = _dead_pid()
    stale_dir = tmp_path / f".other.{_HOST}~{dead}-abc123.partial"  # a killed prepare elsewhere
    stale_dir.mkdir()
    (stale_dir / "chords.npy").write_bytes(b"x" * 100)
    stale_file = tmp_path / f".chords.tsv.{_HOST}~{dead}-xyz.tmp"
    stale_file.write_text("half")
    live = tmp_path / f".mine.{_HOST}~{os.getpid()}-abc.partial"  # this process's: in use
    live.mkdir()
    remote = tmp_path / f".theirs.otherhost~{dead}-abc.tmp"  # another machine's: unknown
    remote.write_text("keep")
    unrelated = tmp_path / ".hidden.tmp"  # not a name fileio writes
    unrelated.write_text("keep")
    assert remove_stale_temporaries(tmp_path) == 2
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted([live.name, remote.name, unrelated.name])

    stale_dir.mkdir()
    with atomic_directory(tmp_path / "out") as tmp:  # the next writer in the folder cleans up
        assert not stale_dir.exists()
        assert tmp.name.startswith(f".out.{_HOST}~{os.getpid()}-")


def test_atomic_directory_never_replaces_a_folder_published_meanwhile(tmp_path) -> None:
    with pytest.raises(FileExistsError), atomic_directory(tmp_path / "out") as tmp:
        (tmp / "mine").write_text("x")
        (tmp_path / "out").mkdir()  # another process publishes first
        (tmp_path / "out" / "theirs").write_text("y")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["theirs"]


def test_numbered_directory_takes_the_next_free_number_when_publishing(tmp_path) -> None:
    stamped: list[int] = []

    def stamp(folder, number: int) -> None:  # noqa: ANN001
        stamped.append(number)
        (folder / "number.txt").write_text(str(number))

    (tmp_path / "1").mkdir()
    (tmp_path / "notes").mkdir()
    with atomic_numbered_directory(tmp_path, stamp) as first:
        (first.building / "model").write_text("a")
        for taken in ("2", "3"):  # others publish while this one is being built
            (tmp_path / taken).mkdir()
            (tmp_path / taken / "model").write_text("theirs")
    assert (first.number, first.path) == (4, tmp_path / "4")
    assert (tmp_path / "4" / "number.txt").read_text() == "4"
    assert (tmp_path / "2" / "model").read_text() == "theirs"

    real_rename = os.rename

    def lose_the_race(source, target) -> None:  # noqa: ANN001
        """Another process publishes the same number between the check and the rename."""
        if Path(target).name == "5" and not Path(target).exists():
            Path(target).mkdir()
            (Path(target) / "model").write_text("theirs")
        real_rename(source, target)

    stamped.clear()
    with (
        patch("coat_tf.fileio.os.rename", lose_the_race),
        atomic_numbered_directory(tmp_path, stamp) as second,
    ):
        (second.building / "model").write_text("b")
    assert stamped == [5, 6] and second.path == tmp_path / "6"
    assert (tmp_path / "6" / "model").read_text() == "b"
    assert (tmp_path / "5" / "model").read_text() == "theirs"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_numbered_directory_is_dropped_when_the_block_fails(tmp_path) -> None:
    with pytest.raises(RuntimeError), atomic_numbered_directory(tmp_path) as folder:
        (folder.building / "half").write_text("x")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == [] and folder.path is None
