"""A prepared data set's manifest: reading it, checking the files against it, and the command
that rebuilds the data set.

``manifest.json`` records the source, the settings, the counts, ``content_hash`` (SHA-256 over
the data files, :func:`content_hash`) and ``files`` (each data file's size and SHA-256, see
:mod:`coat_tf.integrity`). :func:`verify_files` checks a folder against it before anything is
read; a mismatch names the file and the ``prepare`` command (:func:`rebuild_command`) that
rebuilds the data set. :func:`verify_counts` checks the manifest's counts against the files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shlex
from pathlib import Path

from coat_tf.data.errors import DataError
from coat_tf.data.prepare_config import OPTION_FLAGS, SOURCES, PrepareConfig

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HASHED_FILES = (
    "users.tsv",
    "songs.tsv",
    "chord_vocabulary.txt",
    "chords.npy",
    "mfcc.npy",
    "train.tsv",
    "valid.npz",
    "test.npz",
    "chords_unread.tsv",
    "new_songs.tsv",
    "new_chords.npy",
    "new_mfcc.npy",
    "new_valid.npz",
    "new_test.npz",
)


def data_files(folder: str | os.PathLike) -> list[str]:
    """The data files of a prepared folder (every file but the manifest), in a fixed order."""
    folder = Path(folder)
    names = [n for n in HASHED_FILES if (folder / n).is_file()]
    return names + sorted(f"tfrecords/{p.name}" for p in (folder / "tfrecords").glob("train-*"))


def content_hash(folder: str | os.PathLike) -> str:
    """SHA-256 over the data files (name, size and bytes of each, in a fixed order), including
    the TFRecord shards; the manifest itself is not included."""
    folder = Path(folder)
    names = data_files(folder)
    digest = hashlib.sha256()
    for name in names:
        path = folder / name
        digest.update(f"{name}\0{path.stat().st_size}\0".encode())
        with open(path, "rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of the prepared folder ``path``, or a DataError naming what is wrong."""
    manifest_path = Path(path) / MANIFEST
    if Path(path).is_file():
        raise DataError(path, "is a file; expected a prepared data set folder")
    if not manifest_path.is_file():
        raise DataError(manifest_path, "no such file: not a prepared data set")
    try:
        manifest = json.loads(manifest_path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(
            manifest_path, f"not valid JSON ({error}). {rebuild_hint(path, {})}"
        ) from None
    if not isinstance(manifest, dict):
        raise DataError(manifest_path, f"not a manifest (a JSON object). {rebuild_hint(path, {})}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(
            manifest_path,
            f"format_version {manifest.get('format_version')!r}, expected {FORMAT_VERSION}",
        )
    return manifest


def rebuild_hint(path: str | os.PathLike, manifest: dict) -> str:
    """How to rebuild the prepared folder ``path``: the ``prepare`` command its manifest
    records (source, input and the settings that differ from the defaults)."""
    try:
        command = rebuild_command(path, manifest)
    except (KeyError, TypeError, ValueError):
        command = None
    if command is None:
        return "Rebuild it with python -m coat_tf.data prepare ... --out DIR --overwrite."
    hint = f"Rebuild it with: {command}"
    if (manifest.get("source") or {}).get("name") == "demo":
        hint += " (or delete the folder: python -m coat_tf.train rebuilds the demo data set)"
    return hint


def verify_files(path: str | os.PathLike, manifest: dict) -> None:
    """Check the data files of ``path`` against the manifest's listing (or, for a data set
    written before listings, its ``content_hash``).

    Raises:
        DataError (an :class:`~coat_tf.integrity.IntegrityError`): a file is missing or damaged.
    """
    from coat_tf.integrity import IntegrityError, verify

    hint = rebuild_hint(path, manifest)
    if "files" in manifest:
        unlisted = sorted(set(data_files(path)) - set(manifest["files"]))
        if unlisted:  # e.g. a stray TFRecord shard, which training would read
            raise IntegrityError(
                Path(path) / unlisted[0],
                f"not part of the prepared data set (not in its manifest). {hint}",
            )
        verify(path, manifest["files"], hint)
    elif manifest.get("content_hash") and content_hash(path) != manifest["content_hash"]:
        raise IntegrityError(
            path, f"damaged: its files differ from the manifest's content_hash. {hint}"
        )


def _rows(path: Path) -> int:
    """Lines of a table with a header line, less the header."""
    with open(path, "rb") as handle:
        lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    return max(lines - 1, 0)


def file_counts(path: str | os.PathLike, manifest: dict) -> dict[str, int]:
    """The counts of the manifest's ``counts`` that the files of ``path`` give: ``users``,
    ``songs`` (those with an interaction; the catalogue of the NCF format also holds songs
    that are only negatives), ``interactions`` (training rows plus the held-out ones; the
    validation rows are training rows too under ``validation_in_train``), the rows of each
    split (``train``, ``valid``, ``test``) and ``negatives`` per user (those of test;
    validation must agree); and where the folder has new songs, their counts
    (:func:`coat_tf.data.new_songs.file_counts`)."""
    import numpy as np
    import pandas as pd

    from coat_tf.data.new_songs import file_counts as new_song_counts
    from coat_tf.data.splits import Candidates

    path = Path(path)
    valid, test = Candidates.load(path / "valid.npz"), Candidates.load(path / "test.npz")
    train = pd.read_csv(path / "train.tsv", sep="\t", usecols=["song"])["song"].to_numpy()
    in_train = bool((manifest.get("settings") or {}).get("validation_in_train"))
    played = np.unique(np.concatenate([train, valid.positives, test.positives]))
    out = {
        "users": _rows(path / "users.tsv"),
        "songs": len(played),
        "interactions": len(train) + len(test) + (0 if in_train else len(valid)),
        "train": len(train),
        "valid": len(valid),
        "test": len(test),
        "negatives": test.items.shape[1] - 1,
    }
    if len(valid) and valid.items.shape[1] != test.items.shape[1]:
        raise DataError(
            path / "valid.npz",
            f"holds {valid.items.shape[1] - 1} negatives per user, test.npz "
            f"{out['negatives']}. {rebuild_hint(path, manifest)}",
        )
    return {**out, **new_song_counts(path)}


def verify_counts(path: str | os.PathLike, manifest: dict) -> None:
    """Check the manifest's counts (and ``settings.eval_negatives``) against the files.

    Raises:
        DataError: naming each count that differs, what the manifest says and what the files
            hold.
    """
    found = file_counts(path, manifest)
    recorded = dict(manifest.get("counts") or {})
    settings = manifest.get("settings") or {}
    wrong = [
        f"counts.{name} says {recorded[name]!r}, the files hold {value}"
        for name, value in found.items()
        if name in recorded and recorded[name] != value
    ]
    if settings.get("eval_negatives") not in (None, found["negatives"]):
        wrong.append(
            f"settings.eval_negatives says {settings['eval_negatives']!r}, the files hold "
            f"{found['negatives']} negatives per user"
        )
    if wrong:
        raise DataError(
            Path(path) / MANIFEST,
            f"does not match the data files: {'; '.join(wrong)}. {rebuild_hint(path, manifest)}",
        )


def update_checksums(path: str | os.PathLike) -> None:
    """Re-list the data files of ``path`` in its manifest (``files`` and ``content_hash``).

    For tools and tests that change a prepared data set in place on purpose; anything else
    that changes a file makes :meth:`PreparedDataset.load` refuse the data set.
    """
    from coat_tf.fileio import atomic_write_text
    from coat_tf.integrity import checksums

    path = Path(path)
    manifest = read_manifest(path)
    manifest["content_hash"] = content_hash(path)
    manifest["files"] = checksums(path, data_files(path))
    atomic_write_text(path / MANIFEST, json.dumps(manifest, indent=2) + "\n")


#: ``PrepareConfig`` fields and the ``prepare`` options that set them.
_SWITCHES = {name: OPTION_FLAGS[name] for name in ("mfcc", "validation_in_train")}
_FLAGS = {
    field.name: OPTION_FLAGS[field.name]
    for field in dataclasses.fields(PrepareConfig)
    if field.name in OPTION_FLAGS and field.name not in _SWITCHES
}


def rebuild_command(out_dir: str | os.PathLike, manifest: dict) -> str | None:
    """The ``prepare`` command that rebuilds ``out_dir`` from what its manifest records, or
    ``None`` where the manifest does not say (its source is unknown)."""
    source = (manifest.get("source") or {}).get("name")
    if source not in SOURCES:
        return None
    words = ["python", "-m", "coat_tf.data", "prepare", "--source", source]
    if manifest["source"].get("input"):
        words += ["--input", str(manifest["source"]["input"])]
    if manifest["source"].get("chords"):
        words += ["--chords", str(manifest["source"]["chords"])]
    words += ["--out", str(out_dir), "--overwrite"]
    settings = manifest.get("settings") or {}
    # an order column changes the source's defaults (no date step), so they are compared
    # with it, and the column itself is named
    order = {"order_column": settings["order_column"]} if settings.get("order_column") else {}
    defaults = {
        **dataclasses.asdict(PrepareConfig.for_source(source, **order)),
        "order_column": None,
    }
    for name, flag in _FLAGS.items():
        if name == "eval_negatives" and defaults[name] is None:
            continue  # the source's files give the number (the NCF format)
        if name in settings and settings[name] != defaults[name]:
            value = settings[name]
            if name == "compression":
                value = "gzip" if value == "GZIP" else "none"
            words += [flag, "none" if value is None else str(value)]
    words += [flag for name, flag in _SWITCHES.items() if settings.get(name)]
    return shlex.join(words)
