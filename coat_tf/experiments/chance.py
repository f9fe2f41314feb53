"""Song-level chance on new songs: what a fixed random order of a shelf's songs can score.

The new-song rows of a shelf share its few songs: a song many users have is the positive of
many rows. A model that happens to rank a few such songs high gains on all their rows at once,
so chance is wider than the random model's mean suggests, and the per-user bootstrap intervals
(:mod:`coat_tf.experiments.paired`), which resample users and keep the songs, do not show it.
This module measures that width directly. For ``D`` draws of a random order ``pi`` of the
shelf's songs, fixed for every row::

    rank_r(pi) = |{ c in the row's sampled negatives : pi(c) > pi(t_r) }|
    HR@K(pi)   = mean_r [rank_r(pi) < K]

and reports the 2.5th and 97.5th percentiles of ``HR@K(pi)`` over the draws: a model whose
HR@K on those rows is above the upper one is ahead of what one random order of these songs
reaches 39 times in 40.
"""

from __future__ import annotations

import numpy as np

#: Random orders drawn.
DRAWS = 200


def fixed_order_hit_rates(
    items: np.ndarray, k: int = 10, draws: int = DRAWS, seed: int = 0
) -> np.ndarray:
    """HR@k of ``draws`` random song orders, each fixed over every row.

    Args:
        items: int ``[R, 1 + n]``, each row's positive (column 0) and sampled negatives, as
            song indices.
        k: the cut-off.
        draws: how many orders.
        seed: the orders' seed.

    Returns:
        float64 ``[draws]``.
    """
    items = np.asarray(items, dtype=np.int64)
    if items.ndim != 2 or items.shape[1] < 2 or not len(items):
        raise ValueError(f"items must be [rows, 1 + negatives] with rows, got {items.shape}")
    rng = np.random.default_rng(seed)
    songs = int(items.max()) + 1
    out = np.empty(draws)
    for draw in range(draws):
        order = rng.permutation(songs)  # distinct values: no ties
        scores = order[items]
        ranks = (scores[:, 1:] > scores[:, :1]).sum(axis=1)
        out[draw] = np.mean(ranks < k)
    return out


def chance_note(items: np.ndarray, k: int = 10, shelf: str = "test") -> str:
    """One line for a new-songs report: the 95% range of HR@k of fixed random orders."""
    rates = fixed_order_hit_rates(items, k)
    low, high = np.percentile(rates, [2.5, 97.5])
    songs = len(np.unique(np.asarray(items)))
    return (
        f"Song-level chance: a random order of the {shelf} shelf's songs ({songs} songs in "
        f"{len(items):,} rows), fixed for every user, scores HR@{k} (sampled) between "
        f"{low:.3f} and {high:.3f} (2.5th to 97.5th percentile of {len(rates)} orders). The "
        "rows share these songs, so a model is ahead of chance on them only above the upper "
        "figure; the paired intervals resample users, not songs, and do not show this."
    )
