"""Per-file sizes and SHA-256 checksums, written with an output and checked before it is used.

A prepared data set lists its files in ``manifest.json`` (``"files"``); an export lists its
files in ``assets.extra/checksums.json``. Before use, every listed file must exist, have the
listed size (a truncated copy fails here, before any byte is read) and the listed SHA-256
(about 1.4 GB/s on the reference machine, so a paper-sized data set costs well under a
second). A mismatch raises :class:`IntegrityError` naming the file and how to rebuild it,
instead of a parser's traceback halfway through training.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from coat_tf.data.errors import DataError
from coat_tf.fileio import atomic_write_text

CHECKSUMS_FILE = "checksums.json"


class IntegrityError(DataError):
    """A file missing from an output, or whose size or checksum differs from its listing."""


def sha256_of(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's content, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def checksums(folder: str | os.PathLike, names: Iterable[str]) -> dict[str, dict]:
    """``{name: {"size": bytes, "sha256": hex}}`` for the files ``names`` (relative to
    ``folder``, ``/``-separated), in sorted order."""
    folder = Path(folder)
    return {
        name: {"size": (folder / name).stat().st_size, "sha256": sha256_of(folder / name)}
        for name in sorted(names)
    }


def files_under(folder: str | os.PathLike, skip: Iterable[str] = ()) -> list[str]:
    """Every file below ``folder`` as a ``/``-separated relative name, except ``skip``."""
    folder = Path(folder)
    skipped = set(skip)
    names = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted(name for name in names if name not in skipped)


def verify(folder: str | os.PathLike, expected: dict[str, dict], rebuild: str) -> None:
    """Check the files of ``folder`` against ``expected`` (as written by :func:`checksums`).

    Sizes are checked for every file first (cheap), then the checksums.

    Args:
        folder: the output's folder.
        expected: its listing.
        rebuild: a sentence saying how to rebuild the output, appended to the message.

    Raises:
        IntegrityError: the first file that is missing, or whose size or checksum differs.
    """
    folder = Path(folder)
    if not isinstance(expected, dict):
        raise IntegrityError(folder, f"its file listing is malformed. {rebuild}")
    for name, listed in expected.items():
        path = folder / name
        if not path.is_file():
            raise IntegrityError(path, f"missing (the output lists it). {rebuild}")
        size = path.stat().st_size
        if size != listed.get("size"):
            raise IntegrityError(
                path,
                f"damaged: {size:,} bytes where {listed.get('size'):,} were written "
                f"(truncated or overwritten?). {rebuild}",
            )
    for name, listed in expected.items():
        if sha256_of(folder / name) != listed.get("sha256"):
            raise IntegrityError(
                folder / name,
                f"damaged: its content differs from the checksum written with it. {rebuild}",
            )


def write_checksums(folder: str | os.PathLike, into: str) -> Path:
    """Write ``into`` (a path relative to ``folder``) listing every other file of ``folder``.

    Returns the listing's path.
    """
    folder = Path(folder)
    listing = folder / into
    listed = checksums(folder, files_under(folder, skip=[into]))
    atomic_write_text(listing, json.dumps(listed, indent=1, sort_keys=True) + "\n")
    return listing


def verify_listing(folder: str | os.PathLike, listing: str, rebuild: str) -> bool:
    """Check ``folder`` against the listing file ``listing`` (relative to ``folder``).

    Returns False where there is no listing (an output written before listings existed).

    Raises:
        IntegrityError: the listing is unreadable, or a file does not match it.
    """
    path = Path(folder) / listing
    if not path.is_file():
        return False
    try:
        expected = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise IntegrityError(path, f"not valid JSON ({error}). {rebuild}") from None
    verify(folder, expected, rebuild)
    return True
