from __future__ import annotations

import os
import stat

import pytest

from coat_tf.fileio import atomic_directory, atomic_write_text


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
