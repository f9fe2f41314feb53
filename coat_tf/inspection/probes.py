"""Probe pairs: a fixed set of (user, song) pairs whose attention is followed through training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from coat_tf.checks import check_positive_int
from coat_tf.schema import CHORD_IDS, SONG_ID, USER_ID

VALID_POSITIVE = "validation positive"
TEST_POSITIVE = "test positive"
TRAIN = "train"
EXPLICIT = "explicit"


@dataclass
class Probes:
    """Fixed (user, song) pairs and their chord sequences.

    Attributes:
        users: int32 ``[P]`` user indices.
        songs: int32 ``[P]`` song indices.
        chords: int32 ``[P, L]`` the songs' chord ids.
        roles: ``P`` strings saying where each pair comes from (``"validation positive"``,
            ``"test positive"``, ``"train"`` or ``"explicit"``).
    """

    users: np.ndarray
    songs: np.ndarray
    chords: np.ndarray
    roles: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.users = np.asarray(self.users, dtype=np.int32)
        self.songs = np.asarray(self.songs, dtype=np.int32)
        self.chords = np.asarray(self.chords, dtype=np.int32)
        count = len(self.users)
        if self.users.ndim != 1 or count == 0:
            raise ValueError(f"users must be a non-empty [P] array, got shape {self.users.shape}")
        if self.songs.shape != (count,):
            raise ValueError(f"songs must be [P] = [{count}], got shape {self.songs.shape}")
        if self.chords.ndim != 2 or self.chords.shape[0] != count:
            raise ValueError(f"chords must be [P, L] = [{count}, L], got {self.chords.shape}")
        if not self.roles:
            self.roles = [EXPLICIT] * count
        if len(self.roles) != count:
            raise ValueError(f"roles must have {count} entries, got {len(self.roles)}")

    def __len__(self) -> int:
        return len(self.users)

    @property
    def sequence_length(self) -> int:
        return int(self.chords.shape[1])

    def inputs(self) -> dict[str, np.ndarray]:
        """The model inputs ``{"user_id", "song_id", "chord_ids"}`` of the pairs."""
        return {USER_ID: self.users, SONG_ID: self.songs, CHORD_IDS: self.chords}


def _held_out(data, user: int) -> tuple[int, str] | None:
    for candidates, role in ((data.valid, VALID_POSITIVE), (data.test, TEST_POSITIVE)):
        rows = np.flatnonzero(np.asarray(candidates.users) == user)
        if len(rows):
            return int(candidates.items[rows[0], 0]), role
    return None


def _check_range(name: str, values: np.ndarray, limit: int) -> None:
    bad = values[(values < 0) | (values >= limit)]
    if len(bad):
        raise ValueError(f"{name} index {int(bad[0])} outside [0, {limit})")


def choose_probes(
    data,
    num_users: int = 4,
    songs_per_user: int = 3,
    seed: int = 0,
    users: Sequence[int] | None = None,
    songs: Sequence[int] | None = None,
) -> Probes:
    """Choose fixed, seeded probe pairs from a prepared data set.

    Each probe user contributes their held-out validation positive (or, without one, their test
    positive) and ``songs_per_user - 1`` of their training songs, drawn with ``seed``. Songs
    whose chord sequence is not all ``N`` are preferred, and so are users whose held-out song
    has chords, since an all-``N`` sequence gives an uninformative picture.

    Args:
        data: a :class:`~coat_tf.data.PreparedDataset` (uses ``num_users``, ``num_songs``,
            ``chords``, ``valid``, ``test`` and ``train_items_by_user()``).
        num_users: probe users to draw when ``users`` is not given.
        songs_per_user: songs per probe user (at most; fewer where the user has fewer).
        seed: seeds the draws.
        users: explicit user indices. With ``songs`` as well, the pairs are exactly
            ``zip(users, songs)``; alone, songs are chosen for each of them as above.
        songs: explicit song indices, one per entry of ``users``.

    Returns:
        :class:`Probes`, grouped by user.

    Raises:
        ValueError: bad counts, indices out of range, ``songs`` without ``users``, or no user
            with a held-out song.
    """
    check_positive_int("songs_per_user", songs_per_user)
    if songs is not None:
        if users is None:
            raise ValueError("songs given without users: pass one user per song")
        users_array = np.asarray(users, dtype=np.int64)
        songs_array = np.asarray(songs, dtype=np.int64)
        if users_array.shape != songs_array.shape or users_array.ndim != 1:
            raise ValueError(
                f"users and songs must be lists of equal length, got {len(users_array)} users "
                f"and {len(songs_array)} songs"
            )
        _check_range("user", users_array, data.num_users)
        _check_range("song", songs_array, data.num_songs)
        return Probes(users_array, songs_array, data.chords[songs_array])

    rng = np.random.default_rng(seed)
    has_chords = np.any(np.asarray(data.chords) != 0, axis=1)
    if users is None:
        check_positive_int("num_users", num_users)
        eligible = sorted(set(np.asarray(data.valid.users).tolist()))
        eligible += sorted(set(np.asarray(data.test.users).tolist()) - set(eligible))
        if not eligible:
            raise ValueError("no user has a validation or test item to probe")
        with_chords = [u for u in eligible if has_chords[_held_out(data, u)[0]]]
        pool = with_chords if len(with_chords) >= num_users else eligible
        chosen = rng.choice(len(pool), size=min(num_users, len(pool)), replace=False)
        users = sorted(pool[i] for i in chosen)
    users_array = np.asarray(users, dtype=np.int64)
    _check_range("user", users_array, data.num_users)

    train_items = data.train_items_by_user()
    pairs: list[tuple[int, int, str]] = []
    for user in users_array.tolist():
        held_out = _held_out(data, user)
        if held_out is not None:
            pairs.append((user, *held_out))
        wanted = songs_per_user - (held_out is not None)
        items = np.asarray(train_items[user])
        preferred = items[has_chords[items]]
        others = items[~has_chords[items]]
        picked = rng.permutation(preferred)[:wanted].tolist()
        picked += rng.permutation(others)[: wanted - len(picked)].tolist()
        pairs.extend((user, int(song), TRAIN) for song in picked)
    if not pairs:
        raise ValueError(f"users {users_array.tolist()} have no songs to probe")
    pair_users, pair_songs, roles = zip(*pairs, strict=True)
    song_array = np.asarray(pair_songs, dtype=np.int64)
    return Probes(np.asarray(pair_users), song_array, data.chords[song_array], list(roles))


def song_display_names(data) -> list[str]:
    """A readable name per song index: the ``name`` column of ``data.songs`` where it is not
    empty, else the song's original id."""
    ids = [str(i) for i in data.song_ids]
    songs = getattr(data, "songs", None)
    if songs is None or "name" not in songs:
        return ids
    names = songs["name"].fillna("").astype(str).tolist()
    return [name.strip() or song_id for name, song_id in zip(names, ids, strict=True)]
