"""The per-user figures a run keeps: each evaluated row's rank, beside ``metrics.json``.

A run evaluated on test writes ``per_user.npz`` into its folder: for each ranking (``test
sampled``, ``test full_catalogue``, and the new-song rankings where the data set has them) the
evaluated rows' user indices and the rank of each row's held-out song (0 = first; see
:mod:`coat_tf.evaluation`), under the keys ``<ranking>/users`` and ``<ranking>/ranks``, and the
cut-off ``k``. ``metrics.json``'s means are those of these ranks::

    NDCG@k = mean over rows of gain(rank),  gain(r) = 1 / log2(r + 2) if r < k else 0

Paired comparisons between two models (:mod:`coat_tf.experiments.paired`) read them: the
means alone cannot say whether a difference is larger than the noise, the same users' figures
can.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from coat_tf.fileio import atomic_write_bytes

PER_USER_FILE = "per_user.npz"


def gains(ranks: np.ndarray, k: int, metric: str = "ndcg") -> np.ndarray:
    """Per-row NDCG@k (``metric="ndcg"``) or HR@k (``"hr"``) gains of ``ranks``: ``[R] -> [R]``."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if metric == "hr":
        return (ranks < k).astype(np.float64)
    if metric != "ndcg":
        raise ValueError(f"metric must be 'ndcg' or 'hr', not {metric!r}")
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def save(
    run_dir: str | os.PathLike, k: int, rankings: dict[str, tuple[np.ndarray, np.ndarray]]
) -> Path:
    """Write ``per_user.npz`` into ``run_dir`` (atomically).

    Args:
        run_dir: the run folder.
        k: the cut-off of the run's figures.
        rankings: name (``"test/sampled"``) -> ``(users [R], ranks [R])``.
    """
    arrays: dict[str, np.ndarray] = {"k": np.asarray(int(k))}
    for name, (users, ranks) in rankings.items():
        users, ranks = np.asarray(users, dtype=np.int64), np.asarray(ranks, dtype=np.int64)
        if users.shape != ranks.shape:
            raise ValueError(f"{name}: {users.shape[0]} users for {ranks.shape[0]} ranks")
        arrays[f"{name}/users"], arrays[f"{name}/ranks"] = users, ranks
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path = Path(run_dir) / PER_USER_FILE
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load(run_dir: str | os.PathLike) -> tuple[int, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``(k, rankings)`` of a run folder's ``per_user.npz`` (see :func:`save`).

    Raises:
        FileNotFoundError: the run kept no per-user figures (evaluated before they were kept).
        ValueError: the file is damaged, naming it.
    """
    path = Path(run_dir) / PER_USER_FILE
    try:
        with np.load(path) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path}: cannot be read ({error}); the file is damaged") from None
    if "k" not in arrays:
        raise ValueError(f"{path}: has no cut-off k; the file is damaged")
    rankings = {}
    for key in arrays:
        if key.endswith("/users"):
            name = key[: -len("/users")]
            if f"{name}/ranks" not in arrays:
                raise ValueError(f"{path}: {name} has users but no ranks; the file is damaged")
            rankings[name] = (arrays[key], arrays[f"{name}/ranks"])
    return int(arrays["k"]), rankings
