"""Models fitted once from the training interactions, with no epochs: popularity, item-kNN, the
chord-histogram profiles and the seeded random scores.

A :class:`FittedRecommender` is built by :meth:`FittedRecommender.fit` from the training pairs
in one pass, and its whole state is a few arrays: :meth:`save` writes them to one ``.npz``
file (atomically) and :meth:`load` reads them back, as WMF's factors are kept. Its scores are
unbounded preferences (counts, sums of similarities), not probabilities.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np

from coat_tf.config import ModelConfig
from coat_tf.fileio import atomic_write_bytes
from coat_tf.models.recommender import Recommender

#: The file of a fitted model's state inside a run's ``best/`` folder.
STATE_FILE = "state.npz"

F = TypeVar("F", bound="FittedRecommender")


class FittedRecommender(Recommender):
    """A :class:`Recommender` fitted in one pass, whose state is a set of named arrays."""

    score_is_probability = False

    @classmethod
    def fit(
        cls: type[F],
        users: np.ndarray,
        songs: np.ndarray,
        config: ModelConfig,
        threads: int = 0,
        *,
        seed: int = 0,
        song_tables: Mapping[str, np.ndarray] | None = None,
    ) -> F:
        """The model of the training pairs ``(users[n], songs[n])`` (indices below
        ``config.num_users`` and ``config.num_songs``).

        Args:
            seed: the run's seed (``TrainConfig.seed``), for a model that draws (random).
            song_tables: the catalogue's content tables that the model's
                :class:`~coat_tf.models.registry.ModelSpec` reads (``registry.song_tables``),
                for a model that reads song content (chord-histogram); the others ignore it.
        """
        raise NotImplementedError

    def arrays(self) -> dict[str, np.ndarray]:
        """The state, as :meth:`from_arrays` takes it back."""
        raise NotImplementedError

    @classmethod
    def from_arrays(cls: type[F], arrays: dict[str, np.ndarray]) -> F:
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> None:
        """Write the state to ``path`` (``.npz``) atomically."""
        buffer = io.BytesIO()
        np.savez(buffer, **self.arrays())
        atomic_write_bytes(Path(path), buffer.getvalue())

    @classmethod
    def load(cls: type[F], path: str | os.PathLike) -> F:
        """The model saved at ``path`` by :meth:`save`.

        Raises:
            ValueError: ``path`` is missing, damaged or holds another model's state (the
                message names the file).
        """
        try:
            with np.load(path, allow_pickle=False) as state:
                return cls.from_arrays({name: state[name] for name in state.files})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            reason = f"no array {error}" if isinstance(error, KeyError) else str(error)
            raise ValueError(f"{path}: not a readable {cls.__name__} state ({reason})") from None


def unique_pairs(
    users: np.ndarray, songs: np.ndarray, num_users: int, num_songs: int
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``(user, song)`` pairs, sorted by user then song; ``ValueError`` for an
    index outside ``[0, num_users)`` or ``[0, num_songs)``."""
    users = np.asarray(users, dtype=np.int64)
    songs = np.asarray(songs, dtype=np.int64)
    if users.shape != songs.shape or users.ndim != 1:
        raise ValueError(f"users {users.shape} and songs {songs.shape} must be aligned 1-D arrays")
    for name, ids, size in (("user", users, num_users), ("song", songs, num_songs)):
        if len(ids) and (ids.min() < 0 or ids.max() >= size):
            found = f"{ids.min()}..{ids.max()}"
            raise ValueError(f"{name} indices must lie in [0, {size}), got {found}")
    keys = np.unique(users * num_songs + songs)
    return keys // num_songs, keys % num_songs
