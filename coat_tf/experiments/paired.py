"""Paired comparisons of two models on the same users, with a bootstrap interval.

Two models evaluated on the same users differ by much less than the spread of either's
per-user figures, so the means' standard deviations over seeds cannot say whether one model is
ahead. The paired difference can. For a reference model ``A`` and another model ``B`` at one
size (predictive factors), over the seeds ``S`` both ran::

    g_m,s(u) = the mean NDCG@k gain of user u's evaluated rows in model m's run of seed s
    d(u)     = mean over s in S of ( g_A,s(u) - g_B,s(u) )      (seeds pooled per user)
    mean     = mean over users of d(u)
    interval = the 2.5 and 97.5 percentiles of the mean of d over users drawn with
               replacement (2,000 resamples): a 95% percentile bootstrap over users

A user counts where both models evaluated them in every seed of ``S``. With one row per user
(leave-one-out) ``mean`` is exactly the difference of the two models' NDCG@k means; with
several rows per user (new songs) it weighs users, not rows, alike. The interval says nothing
about other data sets or other settings; an interval that excludes 0 says the difference is
larger than the users' noise here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coat_tf import per_user

RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedDifference:
    """``reference - other`` per user, pooled over ``seeds``: mean and 95% interval."""

    reference: str
    other: str
    factors: int
    ranking: str
    seeds: int
    users: int
    mean: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def user_means(users: np.ndarray, values: np.ndarray) -> dict[int, float]:
    """Per user, the mean of their rows' ``values``: ``[R], [R] -> {user: mean}``."""
    users = np.asarray(users, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    unique, inverse = np.unique(users, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(unique))
    counts = np.bincount(inverse, minlength=len(unique))
    return dict(zip(unique.tolist(), (sums / counts).tolist(), strict=True))


def pooled_differences(
    pairs: Sequence[tuple[dict[int, float], dict[int, float]]],
) -> np.ndarray:
    """``d(u)`` of the module docstring over the users present in every pair, in user order.

    Args:
        pairs: per seed, ``(reference's user means, other's user means)``.
    """
    if not pairs:
        return np.zeros(0)
    users = set(pairs[0][0])
    for reference, other in pairs:
        users &= set(reference) & set(other)
    ordered = sorted(users)
    per_seed = [
        np.array([reference[u] - other[u] for u in ordered], dtype=np.float64)
        for reference, other in pairs
    ]
    return np.mean(per_seed, axis=0) if ordered else np.zeros(0)


def bootstrap_interval(
    values: np.ndarray,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
    block: int = 100,
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``values`` ``[U]``, resampling them
    with replacement ``resamples`` times (``block`` resamples at a time, bounding memory)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, resamples, block):
        count = min(block, resamples - start)
        drawn = rng.integers(0, values.size, size=(count, values.size))
        means.append(values[drawn].mean(axis=1))
    means = np.concatenate(means)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def _user_gains(run_dir: str, ranking: str) -> dict[int, float] | None:
    """The per-user NDCG@k gains of a run's ``ranking``; None where the run kept none."""
    try:
        k, rankings = per_user.load(run_dir)
    except FileNotFoundError:
        return None
    if ranking not in rankings:
        return None
    users, ranks = rankings[ranking]
    return user_means(users, per_user.gains(ranks, k))


def compare(
    rows: list[dict],
    reference: str,
    ranking: str = "test/sampled",
    resamples: int = RESAMPLES,
) -> list[PairedDifference]:
    """The paired NDCG@k differences between ``reference`` and every other model of ``rows``
    (an experiment's ``results.csv`` rows, each naming its ``run_dir``), per size.

    Pairs where either model kept no per-user figures for some seed are left out of that
    seed; a size where no seed has both is left out. Returns them in the rows' model order.

    Raises:
        ValueError: a ``per_user.npz`` is damaged (naming it).
    """
    runs = {(row["model"], row["factors"], row["seed"]): row["run_dir"] for row in rows}
    models = list(dict.fromkeys(row["model"] for row in rows))
    sizes = sorted({row["factors"] for row in rows})
    seeds = sorted({row["seed"] for row in rows})
    cache: dict[str, dict[int, float] | None] = {}

    def gains_of(model: str, size: int, seed: int) -> dict[int, float] | None:
        run_dir = runs.get((model, size, seed))
        if run_dir is None:
            return None
        if run_dir not in cache:
            cache[run_dir] = _user_gains(str(Path(run_dir)), ranking)
        return cache[run_dir]

    out = []
    for other in models:
        if other == reference:
            continue
        for size in sizes:
            pairs = []
            for seed in seeds:
                a, b = gains_of(reference, size, seed), gains_of(other, size, seed)
                if a is not None and b is not None:
                    pairs.append((a, b))
            if not pairs:
                continue
            differences = pooled_differences(pairs)
            if not differences.size:
                continue
            low, high = bootstrap_interval(differences, resamples)
            out.append(
                PairedDifference(
                    reference,
                    other,
                    size,
                    ranking,
                    len(pairs),
                    int(differences.size),
                    float(differences.mean()),
                    low,
                    high,
                )
            )
    return out


def against(
    rows: list[dict],
    baseline: str,
    ranking: str = "test/sampled",
    skip: Sequence[str] = (),
    resamples: int = RESAMPLES,
) -> list[PairedDifference]:
    """Every model of ``rows`` but ``baseline`` and ``skip``, minus ``baseline``: the paired
    differences of :func:`compare` with each model in turn as the reference (for example every
    content model against random order on new songs). In the rows' model order."""
    out = []
    for model in dict.fromkeys(row["model"] for row in rows):
        if model == baseline or model in skip:
            continue
        pair = [row for row in rows if row["model"] in (model, baseline)]
        out += compare(pair, model, ranking, resamples)
    return out


def reference_model(models: Sequence[str], preferred: Sequence[str] = ("coat",)) -> str | None:
    """The model the others are compared with: the first of ``preferred`` among ``models``."""
    return next((model for model in preferred if model in models), None)
