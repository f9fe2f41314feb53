"""Measures of attention weights: mass per chord, entropy, and the chords a user attends to.

All functions take and return NumPy arrays (TensorFlow tensors are accepted as input) and
accumulate in float64, so that sums such as the attention mass on a set of chords are exact up
to float64 rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _weights_and_ids(weights, chord_ids) -> tuple[np.ndarray, np.ndarray]:
    weights = np.asarray(weights, dtype=np.float64)
    chord_ids = np.asarray(chord_ids)
    if weights.ndim != 2:
        raise ValueError(f"weights must be [P, L], got shape {weights.shape}")
    if chord_ids.shape != weights.shape:
        raise ValueError(
            f"chord_ids shape {chord_ids.shape} differs from weights shape {weights.shape}"
        )
    if not np.issubdtype(chord_ids.dtype, np.integer):
        raise ValueError(f"chord_ids must be integers, got dtype {chord_ids.dtype}")
    return weights, chord_ids.astype(np.int64)


def chord_mass(weights, chord_ids, num_chords: int) -> np.ndarray:
    """Attention mass on each chord id.

    ::

        mass[p, c] = sum_i weights[p, i] * [chord_ids[p, i] == c]

    Each row of ``mass`` sums to the row sum of ``weights`` (1 for attention weights). With
    uniform weights ``1 / L`` it is the share of positions holding each chord.

    Args:
        weights: ``[P, L]`` attention weights.
        chord_ids: ``[P, L]`` integer chord ids in ``[0, num_chords)``.
        num_chords: chord vocabulary size.

    Returns:
        float64 ``[P, num_chords]``.

    Raises:
        ValueError: shapes differ, or a chord id is outside ``[0, num_chords)``.
    """
    if isinstance(num_chords, bool) or not isinstance(num_chords, int) or num_chords <= 0:
        raise ValueError(f"num_chords must be a positive integer, got {num_chords!r}")
    weights, chord_ids = _weights_and_ids(weights, chord_ids)
    if chord_ids.size and (chord_ids.min() < 0 or chord_ids.max() >= num_chords):
        bad = chord_ids[(chord_ids < 0) | (chord_ids >= num_chords)][0]
        raise ValueError(f"chord id {bad} outside the vocabulary [0, {num_chords})")
    rows = weights.shape[0]
    flat = (np.arange(rows, dtype=np.int64)[:, None] * num_chords + chord_ids).ravel()
    mass = np.bincount(flat, weights=weights.ravel(), minlength=rows * num_chords)
    return mass.reshape(rows, num_chords)


def attention_entropy(weights) -> np.ndarray:
    """Entropy of each row of attention weights, ``H = -sum_i beta_i log beta_i`` (nats).

    ``0 log 0`` counts as 0. The maximum, reached by uniform weights over ``L`` positions, is
    ``log L`` (``log 100 ≈ 4.605``); one position holding all the weight gives 0.

    Args:
        weights: ``[P, L]``, each row non-negative.

    Returns:
        float64 ``[P]``.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(f"weights must be [P, L], got shape {weights.shape}")
    if np.any(weights < 0):
        raise ValueError("attention weights must be non-negative")
    logs = np.log(np.where(weights > 0, weights, 1.0))
    return -(weights * logs).sum(axis=1)


def uniform_entropy(sequence_length: int) -> float:
    """``log L``: the entropy of uniform attention over ``L`` positions."""
    return math.log(sequence_length)


@dataclass
class UserChords:
    """The chords one user attends to over their probe songs.

    Attributes:
        user: user index.
        num_songs: probe songs of this user.
        mass: float64 ``[num_chords]``: attention mass per chord, averaged over the songs
            (sums to 1).
        share: float64 ``[num_chords]``: share of the songs' positions holding each chord, the
            mass uniform attention would give (sums to 1).
    """

    user: int
    num_songs: int
    mass: np.ndarray
    share: np.ndarray

    def top(self, k: int) -> list[int]:
        """Chord ids of the ``k`` largest masses among chords present in the songs, largest
        first (ties by chord id)."""
        present = np.flatnonzero(self.share > 0)
        order = present[np.lexsort((present, -self.mass[present]))]
        return [int(c) for c in order[:k]]


def user_chords(weights, chord_ids, users, num_chords: int) -> list[UserChords]:
    """Per probe user, the attention mass per chord averaged over that user's probe songs.

    Args:
        weights: ``[P, L]`` attention weights of the probe pairs.
        chord_ids: ``[P, L]`` their chord ids.
        users: ``[P]`` the user of each pair.
        num_chords: chord vocabulary size.

    Returns:
        One :class:`UserChords` per distinct user, in order of first appearance in ``users``.
    """
    weights, chord_ids = _weights_and_ids(weights, chord_ids)
    users = np.asarray(users)
    if users.shape != (weights.shape[0],):
        raise ValueError(f"users must be [P] = [{weights.shape[0]}], got shape {users.shape}")
    mass = chord_mass(weights, chord_ids, num_chords)
    share = chord_mass(np.full(weights.shape, 1.0 / weights.shape[1]), chord_ids, num_chords)
    _, first = np.unique(users, return_index=True)
    result = []
    for user in users[np.sort(first)]:
        rows = users == user
        result.append(
            UserChords(
                user=int(user),
                num_songs=int(rows.sum()),
                mass=mass[rows].mean(axis=0),
                share=share[rows].mean(axis=0),
            )
        )
    return result


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def top_chords_markdown(
    summary: UserChords, chord_labels: Sequence[str], user_name: str, k: int
) -> str:
    """A markdown table of the ``k`` chords ``summary``'s user attends to most.

    Columns: chord, attention mass (averaged over the user's probe songs), share of positions
    holding the chord, and their ratio (above 1: the chord draws more attention than its
    frequency alone would give it).
    """
    lines = [
        f"Chords **{_cell(user_name)}** attends to most over {summary.num_songs} probe "
        f"song(s). *mass*: attention summed over the positions holding the chord, averaged over "
        f"the songs; *share*: fraction of positions holding it (the mass of uniform attention).",
        "",
        "| rank | chord | mass | share | mass / share |",
        "|---:|---|---:|---:|---:|",
    ]
    for rank, chord in enumerate(summary.top(k), start=1):
        mass, share = summary.mass[chord], summary.share[chord]
        lines.append(
            f"| {rank} | {_cell(chord_labels[chord])} | {mass:.3f} | {share:.3f} "
            f"| {mass / share:.2f} |"
        )
    return "\n".join(lines)
