"""The prepared data set on disk, and :class:`PreparedDataset`, its loaded form.

Files of a prepared folder (format version 1):

- ``manifest.json``: source, settings, counts (in the paper's terms), ``num_chords``,
  ``sequence_length``, ``content_hash`` (SHA-256 over the data files, see :func:`content_hash`)
  and ``files`` (each data file's size and SHA-256, checked by :meth:`PreparedDataset.load`
  before anything is read; see :mod:`coat_tf.data.manifest`)
- ``users.tsv`` (``index id``), ``songs.tsv`` (``index id has_chords has_audio name``),
  ``chord_vocabulary.txt``
- ``chords.npy`` int32 ``[num_songs, sequence_length]``; ``mfcc.npy`` float32 ``[num_songs,
  n_mfcc, frames]`` only where MFCCs were computed (zeros for songs without audio)
- ``train.tsv`` (``user song play_count first_timestamp last_timestamp``, indices)
- ``valid.npz``, ``test.npz`` (:class:`~coat_tf.data.splits.Candidates`)
- with ``prepare --new-songs``: ``new_songs.tsv``, ``new_chords.npy``, ``new_mfcc.npy`` (with
  MFCCs), ``new_valid.npz``, ``new_test.npz``, the songs held out of the catalogue
  (:mod:`coat_tf.data.new_songs`, loaded as :attr:`PreparedDataset.new_songs`)
- ``tfrecords/train-*-of-*.tfrecord[.gz]`` (:mod:`coat_tf.data.records`)
- ``data.lock``, not a data file: the runs that read the folder hold it, and ``prepare
  --overwrite`` refuses to replace the folder while they do (:func:`coat_tf.claims.hold_data`)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from coat_tf.data.errors import DataError
from coat_tf.data.manifest import (
    content_hash,  # noqa: F401  (still importable from here)
    read_manifest,
    rebuild_hint,
    verify_files,
)
from coat_tf.data.new_songs import NewSongs
from coat_tf.data.splits import Candidates


class _reading:  # noqa: N801 - a context manager
    """Turns a parser's error while reading ``name`` into a DataError naming the file."""

    def __init__(self, path: Path, manifest: dict) -> None:
        self.path, self.manifest, self.name = path, manifest, ""

    def __enter__(self) -> _reading:
        return self

    def __exit__(self, kind, error, traceback) -> bool:  # noqa: ANN001
        if error is None or not isinstance(error, Exception) or isinstance(error, DataError):
            return False
        raise DataError(
            self.path / self.name,
            f"cannot be read ({type(error).__name__}: {error}). "
            + rebuild_hint(self.path, self.manifest),
        ) from None


@dataclass
class PreparedDataset:
    """A prepared data set in memory (see the module docstring for the files).

    ``new_songs``: the songs held out of the catalogue (:class:`NewSongs`), or ``None`` where
    the data set was prepared without ``--new-songs``.
    """

    path: Path
    manifest: dict
    num_users: int
    num_songs: int
    num_chords: int
    chords: np.ndarray
    train: pd.DataFrame
    valid: Candidates
    test: Candidates
    user_ids: list[str]
    song_ids: list[str]
    vocabulary: object
    songs: pd.DataFrame
    mfcc: np.ndarray | None = None
    new_songs: NewSongs | None = None

    @property
    def sequence_length(self) -> int:
        return int(self.chords.shape[1])

    @property
    def record_files(self) -> list[Path]:
        return sorted((self.path / "tfrecords").glob("train-*-of-*.tfrecord*"))

    @property
    def validation_in_train(self) -> bool:
        """Whether the validation items are training items too (``prepare
        --validation-in-train``): the validation figures then rest on training data."""
        return bool(self.manifest.get("settings", {}).get("validation_in_train", False))

    @property
    def validation_in_train_note(self) -> str:
        """What :attr:`validation_in_train` means for a run, in words."""
        return (
            f"{self.path} keeps its validation items in training (prepare "
            "--validation-in-train): the epoch is chosen on training items"
        )

    @property
    def compression(self) -> str:
        return str(self.manifest.get("settings", {}).get("compression", "") or "")

    @classmethod
    def load(
        cls, path: str | os.PathLike, mmap_mfcc: bool = True, verify: bool = True
    ) -> PreparedDataset:
        """Read a prepared folder; a missing, damaged or inconsistent file is a DataError
        naming it.

        With ``verify`` (the default) every data file is first checked against the sizes and
        SHA-256 checksums in the manifest (:mod:`coat_tf.integrity`); a data set written
        before the manifest listed its files is checked against its ``content_hash``.
        """
        from coat_tf.chords.vocabulary import ChordVocabulary

        path = Path(path)
        manifest = read_manifest(path)
        if verify:
            verify_files(path, manifest)
        for name in ("users.tsv", "songs.tsv", "chords.npy", "train.tsv", "valid.npz", "test.npz"):
            if not (path / name).is_file():
                raise DataError(path / name, "no such file in the prepared data set")
        with _reading(path, manifest) as reading:
            reading.name = "users.tsv"
            users = pd.read_csv(
                path / "users.tsv", sep="\t", dtype={"id": str}, keep_default_na=False
            )
            reading.name = "songs.tsv"
            songs = pd.read_csv(
                path / "songs.tsv", sep="\t", dtype={"id": str, "name": str}, keep_default_na=False
            )
            reading.name = "chords.npy"
            chords = np.load(path / "chords.npy").astype(np.int32, copy=False)
            reading.name = "train.tsv"
            train = pd.read_csv(path / "train.tsv", sep="\t", dtype=np.int64)
            mfcc_path = path / "mfcc.npy"
            reading.name = "mfcc.npy"
            mfcc = (
                np.load(mfcc_path, mmap_mode="r" if mmap_mfcc else None)
                if mfcc_path.is_file()
                else None
            )
            reading.name = "chord_vocabulary.txt"
            vocabulary = ChordVocabulary.load(path / "chord_vocabulary.txt")
            reading.name = "valid.npz"
            valid = Candidates.load(path / "valid.npz")
            reading.name = "test.npz"
            test = Candidates.load(path / "test.npz")
            reading.name = "new_songs.tsv"
            new_songs = NewSongs.load(path, mmap_mfcc=mmap_mfcc)
        data = cls(
            path=path,
            manifest=manifest,
            num_users=len(users),
            num_songs=len(songs),
            num_chords=len(vocabulary),
            chords=chords,
            train=train,
            valid=valid,
            test=test,
            user_ids=users["id"].tolist(),
            song_ids=songs["id"].tolist(),
            vocabulary=vocabulary,
            songs=songs,
            mfcc=mfcc,
            new_songs=new_songs,
        )
        data._check()
        return data

    def _check(self) -> None:
        problems = []
        if self.chords.shape[0] != self.num_songs:
            problems.append(f"chords.npy has {self.chords.shape[0]} rows, {self.num_songs} songs")
        if len(self.chords) and (self.chords.min() < 0 or self.chords.max() >= self.num_chords):
            problems.append("chords.npy holds ids outside the chord vocabulary")
        for name, frame_max, limit in (
            ("train.tsv user", self.train["user"].max(), self.num_users),
            ("train.tsv song", self.train["song"].max(), self.num_songs),
        ):
            if len(self.train) and frame_max >= limit:
                problems.append(f"{name} index {frame_max} out of range {limit}")
        if self.new_songs is not None:
            problems += self.new_songs.problems(self.num_users, self.sequence_length)
        if self.manifest.get("num_chords") not in (None, self.num_chords):
            problems.append("manifest num_chords differs from the vocabulary")
        if problems:
            raise DataError(self.path, "inconsistent prepared data set: " + "; ".join(problems))

    def train_items_by_user(self) -> list[np.ndarray]:
        """Sorted song indices of each user's training interactions (index = user)."""
        ordered = self.train.sort_values(["user", "song"])
        bounds = np.searchsorted(ordered["user"].to_numpy(), np.arange(self.num_users + 1))
        songs = ordered["song"].to_numpy().astype(np.int32)
        return [songs[bounds[u] : bounds[u + 1]] for u in range(self.num_users)]

    def train_keys(self) -> np.ndarray:
        """Sorted unique int64 ``user * num_songs + song`` of the training pairs."""
        keys = self.train["user"].to_numpy(np.int64) * self.num_songs + self.train["song"].to_numpy(
            np.int64
        )
        return np.unique(keys)
