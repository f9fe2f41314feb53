from __future__ import annotations

import os
import stat

import pytest

from coat_tf.fileio import atomic_directory, atomic_write_text, remove_stale_temporaries


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
