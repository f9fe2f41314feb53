"""New songs: songs held out of the catalogue, for ranking songs that no model trained on
(``prepare --new-songs FRACTION [--new-songs-by time|random]``), and :class:`NewSongs`, their
loaded form.

Protocol:

1. After the usual filtering (date, top songs, chords, users with enough interactions),
   ``ceil(FRACTION * songs)`` of the songs that remain are new songs. ``time``: the songs whose
   first event (over all users) is the latest, the newest releases (ties: the larger id is
   newer); ``random``: drawn with the seed. Only sources ordered by a time take ``time``.
2. They are cut into two shelves of (nearly) equal size, ``valid`` and ``test``: by ``time``
   the older half is ``valid`` and the newest half ``test`` (the odd song goes to ``test``);
   by ``random``, random halves (same seed).
3. Every interaction with a new song leaves the catalogue before the leave-one-out split, the
   sampled negatives and the TFRecords: the catalogue (``songs.tsv``, ``chords.npy``,
   ``num_songs``, every song embedding table) holds no new song, so none can appear in
   training data, training negatives, validation or test candidates or exclusions. A user left
   with too few catalogue interactions to split is dropped as without new songs.
4. The new songs have their own index space ``0 .. S_new - 1`` (the ``valid`` shelf first,
   then ``test``; each shelf in id order), and their own files:

   - ``new_songs.tsv``: ``index id shelf has_chords has_audio name``
   - ``new_chords.npy`` int32 ``[S_new, L]`` (the vocabulary, key option and padding of
     ``chords.npy``); ``new_mfcc.npy`` float32 ``[S_new, n_mfcc, frames]`` where MFCCs were
     computed
   - ``new_valid.npz``, ``new_test.npz``: :class:`~coat_tf.data.splits.Candidates`, one row
     per (user, new song of that shelf) pair of every catalogue user (``users [R]`` in the
     catalogue's user index space), ``items [R, 1 + n]`` in the new-song index space, column 0
     the user's new song and ``n`` negatives drawn (seeded) from the songs of the same shelf
     that the user does not have. ``n`` is ``--eval-negatives``, or fewer where a shelf is too
     small: the largest number every row of both shelves can have (``counts.new_negatives``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from coat_tf.data.errors import DataError
from coat_tf.data.splits import Candidates, sample_candidates
from coat_tf.schema import CHORD_IDS, MFCC

#: The shelves, in index order.
SHELVES = ("valid", "test")
#: The files of the new songs in a prepared folder.
TABLE, CHORDS, MFCC_FILE = "new_songs.tsv", "new_chords.npy", "new_mfcc.npy"
CANDIDATES = {"valid": "new_valid.npz", "test": "new_test.npz"}
FILES = (TABLE, CHORDS, MFCC_FILE, *CANDIDATES.values())
#: The fewest new songs: two per shelf (a row's negatives are songs of its shelf).
MIN_NEW_SONGS = 4
#: ``numpy.random.default_rng([seed, stream])`` streams: the choice and shelves, then each
#: shelf's negatives (0-2 are the catalogue's candidates and MovieLens' validation items).
_CHOICE_STREAM = 3
_NEGATIVE_STREAMS = {"valid": 4, "test": 5}


@dataclass
class NewSongs:
    """The new songs of a prepared data set (see the module docstring for the protocol).

    Attributes:
        ids: ``[S_new]`` song ids, by new-song index.
        shelf: ``[S_new]`` str, ``"valid"`` or ``"test"``.
        chords: int32 ``[S_new, L]`` chord ids, as ``chords.npy``.
        mfcc: float32 ``[S_new, n_mfcc, frames]``, or ``None`` where no MFCCs were computed.
        valid, test: the rows of each shelf: ``users`` int32 ``[R]`` (catalogue user
            indices), ``items`` int32 ``[R, 1 + n]`` (new-song indices, column 0 the positive).
    """

    ids: list[str]
    shelf: np.ndarray
    chords: np.ndarray
    mfcc: np.ndarray | None
    valid: Candidates
    test: Candidates

    def __len__(self) -> int:
        return len(self.ids)

    def split(self, name: str) -> Candidates:
        """The rows of shelf ``name`` (``"valid"`` or ``"test"``)."""
        return getattr(self, _shelf_name(name))

    def shelf_songs(self, name: str) -> np.ndarray:
        """The new-song indices of shelf ``name``, ascending."""
        return np.flatnonzero(self.shelf == _shelf_name(name))

    def shelf_exclusions(self, name: str) -> list[np.ndarray]:
        """Per row of split(name): the new songs that do NOT compete in the whole-shelf
        ranking: every song outside that shelf, and the user's OTHER songs of the shelf
        (never the row's own positive)."""
        rows = self.split(name)
        outside = np.flatnonzero(self.shelf != _shelf_name(name))
        by_user: dict[int, list[int]] = {}
        for user, song in zip(rows.users.tolist(), rows.positives.tolist(), strict=True):
            by_user.setdefault(user, []).append(song)
        out = []
        for user, song in zip(rows.users.tolist(), rows.positives.tolist(), strict=True):
            others = np.asarray([s for s in by_user[user] if s != song], dtype=np.int64)
            out.append(np.sort(np.concatenate([outside, others])).astype(np.int32))
        return out

    def content(self, name: str) -> np.ndarray:
        """The new songs' content table ``name``: ``"chord_ids"`` (:attr:`chords`) or
        ``"mfcc"`` (:attr:`mfcc`; a ValueError where none was computed)."""
        if name == CHORD_IDS:
            return self.chords
        if name == MFCC:
            if self.mfcc is None:
                raise ValueError("the new songs have no MFCCs (prepare the data set with --mfcc)")
            return self.mfcc
        raise ValueError(f"content must be {CHORD_IDS!r} or {MFCC!r}, got {name!r}")

    @classmethod
    def load(cls, path: str | os.PathLike, mmap_mfcc: bool = True) -> NewSongs | None:
        """The new songs of the prepared folder ``path``, or ``None`` where it has none.

        Raises:
            DataError: a missing or unreadable file, named.
        """
        path = Path(path)
        if not (path / TABLE).is_file():
            return None
        for name in (CHORDS, *CANDIDATES.values()):
            if not (path / name).is_file():
                raise DataError(path / name, f"no such file, though {TABLE} is there")
        table = pd.read_csv(
            path / TABLE,
            sep="\t",
            dtype={"id": str, "shelf": str, "name": str},
            keep_default_na=False,
        )
        mfcc_path = path / MFCC_FILE
        return cls(
            ids=table["id"].tolist(),
            shelf=table["shelf"].to_numpy(dtype=str),
            chords=np.load(path / CHORDS).astype(np.int32, copy=False),
            mfcc=np.load(mfcc_path, mmap_mode="r" if mmap_mfcc else None)
            if mfcc_path.is_file()
            else None,
            valid=Candidates.load(path / CANDIDATES["valid"]),
            test=Candidates.load(path / CANDIDATES["test"]),
        )

    def problems(self, num_users: int, sequence_length: int) -> list[str]:
        """What is inconsistent in these new songs, in words (empty where nothing is)."""
        found = []
        size = len(self.ids)
        if len(self.shelf) != size or not set(self.shelf.tolist()) <= set(SHELVES):
            found.append(f"{TABLE} shelf must be 'valid' or 'test' for each of its {size} songs")
        if self.chords.shape != (size, sequence_length):
            found.append(
                f"{CHORDS} has shape {self.chords.shape}, expected ({size}, {sequence_length})"
            )
        if self.mfcc is not None and self.mfcc.shape[0] != size:
            found.append(f"{MFCC_FILE} has {self.mfcc.shape[0]} rows, {size} new songs")
        for name in SHELVES:
            rows = self.split(name)
            file = CANDIDATES[name]
            if len(rows) and (rows.users.min() < 0 or rows.users.max() >= num_users):
                found.append(f"{file} holds user indices outside 0..{num_users - 1}")
            elif len(rows) and not np.isin(rows.items, self.shelf_songs(name)).all():
                found.append(f"{file} holds songs outside its shelf")
        return found


def _shelf_name(name: str) -> str:
    if name not in SHELVES:
        raise ValueError(f"a shelf is 'valid' or 'test', got {name!r}")
    return name


def _id_key(ids: list[str]) -> list:
    """Sort keys of song ids: numeric where every id is an integer."""
    return [int(i) for i in ids] if all(i.isdigit() for i in ids) else list(ids)


@dataclass
class Choice:
    """The new songs chosen: their ids by shelf (each in id order)."""

    valid: list[str]
    test: list[str]

    @property
    def ids(self) -> list[str]:
        """Every new song, by new-song index (the ``valid`` shelf first)."""
        return self.valid + self.test

    @property
    def shelf(self) -> list[str]:
        return ["valid"] * len(self.valid) + ["test"] * len(self.test)


def choose(
    interactions: pd.DataFrame, fraction: float, by: str, seed: int, where: str | os.PathLike
) -> Choice:
    """The new songs among the songs of ``interactions`` (text ``song``, ``first_timestamp``)
    and their shelves (see the module docstring).

    Raises:
        DataError: the fraction gives fewer than :data:`MIN_NEW_SONGS` new songs, or every
            song.
    """
    first = interactions.groupby("song")["first_timestamp"].min()
    ids = first.index.astype(str).tolist()
    count = math.ceil(fraction * len(ids))
    if count < MIN_NEW_SONGS or count >= len(ids):
        raise DataError(
            where,
            f"--new-songs {fraction} gives {count} new songs of the {len(ids):,} songs left "
            f"after filtering; it needs at least {MIN_NEW_SONGS} (two per shelf, so that a "
            "row can have a negative of its shelf) and at least one song left in the catalogue",
        )
    keys = _id_key(ids)
    if by == "time":
        times = first.to_numpy()
        order = sorted(range(len(ids)), key=lambda i: (times[i], keys[i]))
        chosen = [ids[i] for i in order[len(ids) - count :]]  # oldest first
    elif by == "random":
        rng = np.random.default_rng([seed, _CHOICE_STREAM])
        ranked = [ids[i] for i in sorted(range(len(ids)), key=keys.__getitem__)]
        chosen = [ranked[i] for i in rng.choice(len(ids), size=count, replace=False)]
    else:
        raise ValueError(f"new_songs_by must be 'time' or 'random', got {by!r}")
    half = count // 2
    return Choice(valid=_in_id_order(chosen[:half]), test=_in_id_order(chosen[half:]))


def _in_id_order(ids: list[str]) -> list[str]:
    keys = _id_key(ids)
    return [ids[i] for i in sorted(range(len(ids)), key=keys.__getitem__)]


def shelf_rows(
    pairs: pd.DataFrame,
    choice: Choice,
    num_users: int,
    negatives: int,
    seed: int,
    where: str | os.PathLike,
) -> tuple[dict[str, Candidates], int]:
    """The candidates of each shelf from ``pairs`` (``user`` catalogue user index, ``song``
    new-song index; one row per pair), and the number of negatives each row has.

    Raises:
        DataError: a shelf no catalogue user has a song of, or a shelf whose songs some user
            has all of (no negative to draw).
    """
    shelf = np.asarray(choice.shelf)
    pairs = pairs.drop_duplicates().sort_values(["user", "song"], kind="stable")
    per_shelf = {}
    width = negatives
    for name in SHELVES:
        songs = np.flatnonzero(shelf == name)
        rows = pairs[np.isin(pairs["song"].to_numpy(), songs)]
        if not len(rows):
            raise DataError(
                where,
                f"no user left in the catalogue has a song of the new songs' {name} shelf "
                f"({len(songs)} songs); choose a larger --new-songs",
            )
        most = int(rows.groupby("user").size().max())
        if most >= len(songs):
            raise DataError(
                where,
                f"a user has every one of the {len(songs)} songs of the new songs' {name} "
                "shelf, so no negative can be drawn for its rows; choose a larger --new-songs",
            )
        width = min(width, len(songs) - most)
        per_shelf[name] = (songs, rows)
    out = {}
    for name, (songs, rows) in per_shelf.items():
        local = rows["song"].to_numpy() - songs[0]  # a shelf's songs are consecutive
        users = rows["user"].to_numpy()
        bounds = np.searchsorted(users, np.arange(num_users + 1))
        had = [np.sort(local[bounds[u] : bounds[u + 1]]) for u in range(num_users)]
        drawn = sample_candidates(
            users, local, had, len(songs), width, [seed, _NEGATIVE_STREAMS[name]]
        )
        out[name] = Candidates(users=drawn.users, items=(drawn.items + songs[0]).astype(np.int32))
    return out, width


def counts(choice: Choice, rows: dict[str, Candidates], width: int) -> dict[str, int]:
    """The manifest's counts of the new songs."""
    return {
        "new_songs": len(choice.ids),
        "new_songs_valid": len(choice.valid),
        "new_songs_test": len(choice.test),
        "new_valid": len(rows["valid"]),
        "new_test": len(rows["test"]),
        "new_valid_users": len(np.unique(rows["valid"].users)),
        "new_test_users": len(np.unique(rows["test"].users)),
        "new_negatives": width,
    }


def file_counts(path: str | os.PathLike) -> dict[str, int]:
    """The new-song counts that the files of the prepared folder ``path`` give (empty where
    it has no new songs)."""
    new = NewSongs.load(path)
    if new is None:
        return {}
    choice = Choice(
        valid=[i for i, s in zip(new.ids, new.shelf, strict=True) if s == "valid"],
        test=[i for i, s in zip(new.ids, new.shelf, strict=True) if s == "test"],
    )
    widths = {new.split(name).items.shape[1] - 1 for name in SHELVES}
    if len(widths) != 1:
        raise DataError(
            Path(path) / CANDIDATES["valid"],
            f"holds {new.valid.items.shape[1] - 1} negatives per row, "
            f"{CANDIDATES['test']} {new.test.items.shape[1] - 1}",
        )
    return counts(choice, {"valid": new.valid, "test": new.test}, widths.pop())
