"""Leave-one-out splits by time, and the fixed candidate lists for validation and test.

Rule: each user's interactions are ordered by ``(last_timestamp, first_timestamp, song)``
ascending, where ``song`` is the song index (songs are indexed by popularity, most played first,
so among interactions last heard in the same second the less popular song counts as later).
The last one is the test item, the one before it the validation item, the rest are training.
A user needs at least 3 interactions to be split; others are left out and counted.

MovieLens-1M comes pre-split without timestamps: its test file gives the test items, and one
seeded random training item per user is held out as the validation item (:func:`splittable`,
:func:`movielens_split`).

Candidates: for every user, the held-out positive in column 0 and ``negatives`` songs (99 in
the paper) drawn without replacement, seeded, from the songs the user never interacted with
(in train, validation or test). They are stored with the data set so that every model is scored
on the same candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_INTERACTIONS_TO_SPLIT = 3


@dataclass
class Candidates:
    """Evaluation candidates: ``users`` int32 ``[U]``; ``items`` int32 ``[U, 1 + negatives]``.

    Column 0 of ``items`` is the user's held-out positive; the others are negatives.
    """

    users: np.ndarray
    items: np.ndarray

    def __len__(self) -> int:
        return len(self.users)

    @property
    def positives(self) -> np.ndarray:
        return self.items[:, 0]

    def save(self, path) -> None:
        """Write as ``.npz`` (``users``, ``items``) atomically, byte for byte reproducible (the
        zip entries carry a fixed date, unlike ``np.savez``)."""
        import io
        import zipfile

        from coat_tf.fileio import atomic_write_bytes

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for name, array in (("users", self.users), ("items", self.items)):
                member = io.BytesIO()
                np.save(member, np.ascontiguousarray(array, dtype=np.int32))
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                archive.writestr(info, member.getvalue())
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path) -> Candidates:
        with np.load(path) as data:
            return cls(users=data["users"].astype(np.int32), items=data["items"].astype(np.int32))


def time_order(interactions: pd.DataFrame) -> pd.DataFrame:
    """Interactions sorted by user, then by the split rule (latest last)."""
    return interactions.sort_values(
        ["user", "last_timestamp", "first_timestamp", "song"], kind="stable"
    ).reset_index(drop=True)


def leave_one_out(interactions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split integer-indexed interactions into ``(train, valid, test)`` by the rule above.

    Every user must have at least :data:`MIN_INTERACTIONS_TO_SPLIT` interactions.
    """
    ordered = time_order(interactions)
    from_end = ordered.groupby("user").cumcount(ascending=False).to_numpy()
    sizes = ordered.groupby("user")["song"].transform("size").to_numpy()
    if len(sizes) and sizes.min() < MIN_INTERACTIONS_TO_SPLIT:
        raise ValueError(
            f"every user needs at least {MIN_INTERACTIONS_TO_SPLIT} interactions to be split"
        )
    test = ordered[from_end == 0].reset_index(drop=True)
    valid = ordered[from_end == 1].reset_index(drop=True)
    train = ordered[from_end >= 2].reset_index(drop=True)
    return train, valid, test


def random_validation(train: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For data without timestamps: one seeded random training interaction per user held out.

    Returns ``(train without it, validation)``. Users with a single training interaction keep it
    in train and get no validation row.
    """
    rng = np.random.default_rng([seed, 2])
    ordered = train.sort_values(["user", "song"], kind="stable").reset_index(drop=True)
    sizes = ordered.groupby("user")["song"].transform("size").to_numpy()
    position = ordered.groupby("user").cumcount().to_numpy()
    starts = ordered.drop_duplicates("user")
    size_of = sizes[starts.index]
    pick = np.floor(rng.random(len(starts)) * size_of).astype(np.int64)
    chosen_pos = np.repeat(pick, size_of)
    held = (position == chosen_pos) & (sizes >= 2)
    return ordered[~held].reset_index(drop=True), ordered[held].reset_index(drop=True)


def sample_candidates(
    users: np.ndarray,
    positives: np.ndarray,
    interacted: list[np.ndarray],
    num_songs: int,
    negatives: int = 99,
    seed: int | list[int] = 0,
) -> Candidates:
    """Candidates for ``users`` (see the module docstring).

    Args:
        users: int ``[U]`` user indices.
        positives: int ``[U]`` the held-out song of each user.
        interacted: per user index, the sorted unique songs the user ever interacted with.
        num_songs: size of the catalogue.
        negatives: negatives per user.
        seed: an int or a list of ints (``numpy.random.default_rng``); the draw is a function
            of ``seed`` and the inputs only.

    Raises:
        ValueError: a user has fewer than ``negatives`` songs they never interacted with.
    """
    rng = np.random.default_rng(seed)
    items = np.empty((len(users), 1 + negatives), dtype=np.int32)
    items[:, 0] = positives
    for row, user in enumerate(users):
        seen = interacted[user]
        free = num_songs - len(seen)
        if free < negatives:
            raise ValueError(
                f"user index {user} has only {free} songs never interacted with; "
                f"{negatives} negatives are needed (lower the number of negatives)"
            )
        draws = np.sort(rng.choice(free, size=negatives, replace=False))
        # The r-th song not in `seen`: shift r by the number of seen songs at or below it.
        shift = np.searchsorted(seen - np.arange(len(seen)), draws, side="right")
        items[row, 1:] = rng.permutation(draws + shift)
    return Candidates(users=np.asarray(users, dtype=np.int32), items=items)


def enough_negatives(interactions: pd.DataFrame, negatives: int) -> tuple[pd.DataFrame, int]:
    """Drop users with fewer than ``negatives`` songs they never interacted with (repeated,
    since dropping users can remove songs); returns the rest and the number dropped."""
    dropped = 0
    while len(interactions):
        num_songs = interactions["song"].nunique()
        sizes = interactions.groupby("user")["song"].transform("size")
        short = num_songs - sizes < negatives
        if not short.any():
            break
        dropped += int(interactions.loc[short, "user"].nunique())
        interactions = interactions[~short].reset_index(drop=True)
    return interactions, dropped


def latest_validation(train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For pre-split data with timestamps: each user's latest training interaction (by the
    split rule's order) held out. Returns ``(train without it, validation)``; users with a
    single training interaction keep it and get no validation row."""
    ordered = time_order(train)
    last = ordered.groupby("user").cumcount(ascending=False).to_numpy() == 0
    sizes = ordered.groupby("user")["song"].transform("size").to_numpy()
    held = last & (sizes >= 2)
    return ordered[~held].reset_index(drop=True), ordered[held].reset_index(drop=True)


def splittable(
    interactions: pd.DataFrame,
    ml_test: pd.DataFrame | None,
    seed: int,
    validation_by_time: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame | None, int]:
    """Drop users who cannot be split; returns ``(kept, validation pairs or None, dropped)``.

    By time: a user needs :data:`MIN_INTERACTIONS_TO_SPLIT` interactions. Pre-split data
    (``ml_test`` given, MovieLens or the NCF format): a user needs its test pair and two
    training pairs, one of which becomes the validation item: the latest by time with
    ``validation_by_time`` (:func:`latest_validation`), else a seeded random one
    (:func:`random_validation`, for data without timestamps).
    """
    sizes = interactions.groupby("user")["song"].transform("size")
    if ml_test is None:
        keep = sizes >= MIN_INTERACTIONS_TO_SPLIT
        dropped = int(interactions.loc[~keep, "user"].nunique())
        return interactions[keep].reset_index(drop=True), None, dropped
    test_keys = set(zip(ml_test["user"], ml_test["song"], strict=True))
    is_test = np.array(
        [k in test_keys for k in zip(interactions["user"], interactions["song"], strict=True)],
        dtype=bool,
    )
    train_sizes = (~pd.Series(is_test)).groupby(interactions["user"].to_numpy()).transform("sum")
    has_test = pd.Series(is_test).groupby(interactions["user"].to_numpy()).transform("any")
    keep = (has_test & (train_sizes >= 2)).to_numpy()
    dropped = int(interactions.loc[~keep, "user"].nunique())
    kept = interactions[keep].reset_index(drop=True)
    kept_train = kept[~is_test[keep]]
    if validation_by_time:
        _, valid = latest_validation(kept_train)
    else:
        _, valid = random_validation(kept_train, seed)
    return kept, valid[["user", "song"]], dropped


def movielens_split(
    indexed: pd.DataFrame,
    ml_test: pd.DataFrame,
    ml_valid: pd.DataFrame,
    user_index: dict[str, int],
    song_index: dict[str, int],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Indexed MovieLens ``(train, valid, test)``: held-out pairs removed from train."""

    def to_index(frame):
        out = (
            pd.DataFrame(
                {"user": frame["user"].map(user_index), "song": frame["song"].map(song_index)}
            )
            .dropna()
            .astype(np.int64)
        )
        return out.sort_values("user").reset_index(drop=True)

    test, valid = to_index(ml_test), to_index(ml_valid)
    held = set(zip(test["user"], test["song"], strict=True)) | set(
        zip(valid["user"], valid["song"], strict=True)
    )
    mask = [k not in held for k in zip(indexed["user"], indexed["song"], strict=True)]
    train = indexed[mask].sort_values(["user", "song"]).reset_index(drop=True)
    return train, valid, test


def with_validation(
    indexed: pd.DataFrame, train: pd.DataFrame, valid: pd.DataFrame
) -> pd.DataFrame:
    """``train`` with each user's validation interaction (its row of ``indexed``) put back,
    after the user's training rows (so a split by time keeps its order)."""
    pairs = set(zip(valid["user"], valid["song"], strict=True))
    back = indexed[[k in pairs for k in zip(indexed["user"], indexed["song"], strict=True)]]
    both = pd.concat([train, back[train.columns]], ignore_index=True)
    return both.sort_values("user", kind="stable").reset_index(drop=True)


def interacted(indexed: pd.DataFrame, num_users: int) -> list[np.ndarray]:
    """Sorted songs of every user index (all splits together)."""
    ordered = indexed.sort_values(["user", "song"])
    bounds = np.searchsorted(ordered["user"].to_numpy(), np.arange(num_users + 1))
    songs = ordered["song"].to_numpy()
    return [songs[bounds[u] : bounds[u + 1]] for u in range(num_users)]
