"""How much attention lands on a planted chord (the demo data set's known structure).

For a listener ``u`` planted with chord ``c`` and a song ``s`` whose sequence holds ``c``::

    mass(u, s)    = sum_i beta_i(u, s) [c_{s,i} = c]        attention on the planted chord
    share(s)      = |{i : c_{s,i} = c}| / L                  the same under uniform weights

Averaged over the planted listeners and, for each, the songs holding their chord. A model that
found the preference puts ``mass`` well above ``share``; uniform weights give ``mass = share``
exactly (each position gets ``1 / L``). The same figures for listeners *without* a planted
preference, on the same songs, are a control: their attention has no reason to favour ``c``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf

from coat_tf.inspection.measures import chord_mass
from coat_tf.models.recommender import Recommender


@dataclass
class PlantedMass:
    """Mean attention mass on planted chords, and the uniform baseline on the same pairs."""

    mass: float
    share: float
    control_mass: float
    pairs: int

    @property
    def lift(self) -> float:
        """``mass / share``: 1 for uniform attention."""
        return self.mass / self.share if self.share else float("nan")

    def to_dict(self) -> dict:
        return {**asdict(self), "lift": self.lift}


def _pairs(users: Sequence[int], songs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(np.asarray(users, np.int32), len(songs)), np.tile(songs, len(users))


def _mean_mass(
    recommender: Recommender,
    users,
    songs,
    chords: np.ndarray,
    chord: int,
    batch: int,  # noqa: ANN001
) -> tuple:
    user_ids, song_ids = _pairs(users, songs)
    weights = []
    for start in range(0, len(user_ids), batch):
        part = slice(start, start + batch)
        attention = recommender.attention(
            tf.constant(user_ids[part]), tf.constant(chords[song_ids[part]])
        )
        weights.append(attention.numpy())
    weights = np.concatenate(weights)
    num_chords = int(chords.max()) + 1
    mass = chord_mass(weights, chords[song_ids], num_chords)[:, chord]
    share = (chords[song_ids] == chord).mean(axis=1)
    return float(mass.mean()), float(share.mean()), len(user_ids)


def planted_attention_mass(
    recommender: Recommender,
    chords: np.ndarray,
    planted: Mapping[int, Sequence[int]],
    controls: Sequence[int],
    max_users: int = 50,
    seed: int = 0,
    batch: int = 4096,
) -> PlantedMass:
    """:class:`PlantedMass` of a COAT model.

    Args:
        recommender: the scoring interface of a COAT model (one with a chord attention).
        chords: the chord table ``[num_songs, L]``.
        planted: chord id -> indices of the users planted with it.
        controls: indices of users with no planted preference.
        max_users: at most this many users per chord (and controls), chosen with ``seed``.
        seed: chooses the users.
        batch: pairs per forward pass.
    """
    rng = np.random.default_rng(seed)

    def pick(users: Sequence[int]) -> np.ndarray:
        users = np.asarray(users)
        return rng.choice(users, min(max_users, len(users)), replace=False)

    totals = np.zeros(4)  # mass * n, share * n, control mass * n, n
    control_users = pick(controls)
    for chord, users in planted.items():
        songs = np.flatnonzero((chords == chord).any(axis=1)).astype(np.int32)
        if not len(songs) or not len(users):
            continue
        mass, share, n = _mean_mass(recommender, pick(users), songs, chords, chord, batch)
        control, _, n_control = _mean_mass(recommender, control_users, songs, chords, chord, batch)
        totals += [mass * n, share * n, control * n, n]
    if not totals[3]:
        raise ValueError("no planted user has a song holding their chord")
    n = totals[3]
    return PlantedMass(totals[0] / n, totals[1] / n, totals[2] / n, int(n))
