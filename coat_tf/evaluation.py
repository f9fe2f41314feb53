"""HR@K and NDCG@K: on the stored sampled candidates, and over the full catalogue.

For one user with held-out song ``t`` and a set of competing songs ``N``::

    rank  = |{ j in N : score(j) >= score(t) }|         (0 = ranked first)
    HR@K  = 1 if rank < K else 0
    NDCG@K = 1 / log2(rank + 2) if rank < K else 0

averaged over users. **Ties count against the model**: a competitor scoring exactly as high as
the held-out song is ranked above it. A model that gives every song the same score therefore
gets HR = 0 rather than a lucky hit, and nothing depends on the order of the candidates.

**A score that is not finite never helps the model**: a held-out song scored NaN or +-inf is
ranked last (behind every competitor, a miss), and a competitor scored NaN counts as ranked
above the held-out song. (``score >= target`` is False for NaN, so without this rule a model
that diverged to NaN would rank every held-out song first.) The number of users whose held-out
song was not finite is ``RankingMetrics.non_finite``; where it is every user, the model has
diverged and :class:`~coat_tf.failures.NonFiniteScoresError` is raised instead of reporting
figures.

- *Sampled* (the paper's protocol): ``N`` is the user's 99 stored negatives
  (:class:`~coat_tf.data.splits.Candidates`, column 0 the positive), the same for every model.
- *Full catalogue*: ``N`` is every song except the held-out one and the songs excluded for that
  user: their training songs, and for the test split also their validation song (part of the
  known history at test time). Sampled metrics can rank models differently from these
  (Krichene & Rendle, KDD 2020), so both are reported.

Every model is scored through its :class:`~coat_tf.models.Recommender`: ``score_pairs`` for the
sampled candidates, ``score_all`` for the full catalogue. :func:`full_catalogue_tfrs` computes
the full-catalogue figures of a dot-product model (GMF, WMF) from its ``dot_product_tables``
with TensorFlow Recommenders' ``BruteForce`` index and its exclusions; it ranks ties by index
rather than against the model, the only way it can differ from :func:`full_catalogue`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from coat_tf.failures import NonFiniteScoresError
from coat_tf.models.recommender import Recommender


@dataclass
class RankingMetrics:
    """Averages over ``users`` users, at cut-off ``k``; ``ranks`` ``[users]``, each evaluated
    row's rank (0 = first), is kept for the per-user figures (:mod:`coat_tf.per_user`) and is
    not part of :meth:`to_dict`."""

    hr: float
    ndcg: float
    users: int
    k: int
    seconds: float = 0.0
    non_finite: int = 0
    ranks: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {
            "hr": self.hr,
            "ndcg": self.ndcg,
            "users": self.users,
            "k": self.k,
            "seconds": self.seconds,
            "non_finite": self.non_finite,
        }


def hit_ratio(ranks: np.ndarray, k: int) -> float:
    """Share of users whose held-out song has ``rank < k``."""
    ranks = np.asarray(ranks)
    return float(np.mean(ranks < k)) if ranks.size else 0.0


def ndcg(ranks: np.ndarray, k: int) -> float:
    """Mean of ``1 / log2(rank + 2)`` over users, counting 0 where ``rank >= k``."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if not ranks.size:
        return 0.0
    gains = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(np.mean(gains))


def candidate_ranks(scores: np.ndarray) -> np.ndarray:
    """Rank of column 0 among the other columns, ties against it: ``[U, C] -> [U]``.

    A non-finite column 0 ranks last (``C - 1``); a NaN competitor ranks above column 0.
    """
    scores = np.asarray(scores)
    target, others = scores[:, :1], scores[:, 1:]
    ahead = (others >= target) | np.isnan(others) | ~np.isfinite(target)
    return np.sum(ahead, axis=1)


def _metrics(ranks: np.ndarray, k: int, started: float, non_finite: int = 0) -> RankingMetrics:
    users = int(len(ranks))
    if users and non_finite == users:
        raise NonFiniteScoresError(
            f"the model scored every one of the {users} held-out songs NaN or infinite: it has "
            "diverged, so there are no figures to report. Retrain with a smaller learning rate."
        )
    return RankingMetrics(
        hr=hit_ratio(ranks, k),
        ndcg=ndcg(ranks, k),
        users=users,
        k=k,
        seconds=time.perf_counter() - started,
        non_finite=non_finite,
        ranks=np.asarray(ranks, dtype=np.int64),
    )


def check_top_k(k: int, data, test: bool = True) -> None:  # noqa: ANN001 - a PreparedDataset
    """Refuse a cut-off ``k`` larger than the sampled candidate lists of ``data`` (the held-out
    song and its stored negatives, per user): there, every held-out song would be a hit.

    Args:
        test: check the test split's lists too; a search, which never reads the test split,
            checks the validation split's alone.

    Raises:
        ValueError: naming ``top_k`` (``--top-k``), its value and the lists' size.
    """
    splits = (data.valid, data.test) if test else (data.valid,)
    sizes = [split.items.shape[1] for split in splits if len(split)]
    if sizes and k > min(sizes):
        size = min(sizes)
        raise ValueError(
            f"top_k (--top-k) is {k}, larger than the sampled candidate list of "
            f"{getattr(data, 'path', 'the data set')}: {size} songs per user (the held-out "
            f"song and {size - 1} stored negatives), beyond which every held-out song would "
            f"count as a hit; choose at most {size}"
        )


def sampled(
    scorer: Recommender, users: np.ndarray, items: np.ndarray, k: int = 10, batch: int = 256
) -> RankingMetrics:
    """HR@k and NDCG@k of the positive (column 0 of ``items``) against the other columns.

    Args:
        scorer: the model's scoring interface (``score_pairs``).
        users: int ``[U]``.
        items: int ``[U, C]``, column 0 the held-out positive.
        k: cut-off.
        batch: users scored per call.
    """
    started = time.perf_counter()
    users = np.asarray(users, dtype=np.int32)
    items = np.asarray(items, dtype=np.int32)
    ranks = []
    width = items.shape[1]
    non_finite = 0
    for start in range(0, len(users), batch):
        u = users[start : start + batch]
        i = items[start : start + batch]
        scores = scorer.score_pairs(np.repeat(u, width), i.reshape(-1)).numpy()
        scores = scores.reshape(len(u), width)
        non_finite += int(np.sum(~np.isfinite(scores[:, 0])))
        ranks.append(candidate_ranks(scores))
    return _metrics(np.concatenate(ranks) if ranks else np.zeros(0), k, started, non_finite)


def full_catalogue(
    scorer: Recommender,
    users: np.ndarray,
    positives: np.ndarray,
    exclude: Sequence[np.ndarray],
    k: int = 10,
    batch: int = 64,
) -> RankingMetrics:
    """HR@k and NDCG@k of each held-out song against the whole catalogue.

    Args:
        scorer: the model's scoring interface (``score_all``).
        users: int ``[U]``.
        positives: int ``[U]``, the held-out song of each user.
        exclude: per user, the song indices that do not compete (e.g. their training songs).
            The held-out song itself is never excluded.
        k: cut-off.
        batch: users scored per call.
    """
    started = time.perf_counter()
    users = np.asarray(users, dtype=np.int32)
    positives = np.asarray(positives, dtype=np.int64)
    ranks = np.zeros(len(users), dtype=np.int64)
    non_finite = 0
    for start in range(0, len(users), batch):
        stop = min(start + batch, len(users))
        scores = scorer.score_all(tf.constant(users[start:stop])).numpy()
        rows = np.arange(stop - start)
        target = scores[rows, positives[start:stop]]
        bad_target = ~np.isfinite(target)  # ranked behind every competing song
        non_finite += int(bad_target.sum())
        competing = (scores >= target[:, None]) | np.isnan(scores) | bad_target[:, None]
        for row, user_index in enumerate(range(start, stop)):
            competing[row, np.asarray(exclude[user_index], dtype=np.int64)] = False
        competing[rows, positives[start:stop]] = False
        ranks[start:stop] = competing.sum(axis=1)
    return _metrics(ranks, k, started, non_finite)


def full_catalogue_tfrs(
    scorer: Recommender,
    users: np.ndarray,
    positives: np.ndarray,
    exclude: Sequence[np.ndarray],
    k: int = 10,
    batch: int = 256,
) -> RankingMetrics:
    """Full-catalogue HR@k and NDCG@k of a dot-product model through TFRS ``BruteForce``.

    Args:
        scorer: a dot-product model's scoring interface: ``dot_product_tables()`` gives the
            query table ``[num_users, d]`` and the candidate table ``[num_songs, d]``, and the
            model ranks song ``i`` for user ``u`` by ``queries[u] . candidates[i]``.
        users: as in :func:`full_catalogue`.
        positives: as in :func:`full_catalogue`.
        exclude: as in :func:`full_catalogue`.
        k: as in :func:`full_catalogue`.
        batch: as in :func:`full_catalogue`.

    Raises:
        coat_tf.models.Unsupported: the model is not a dot-product model.
    """
    import tensorflow_recommenders as tfrs

    queries, candidates = scorer.dot_product_tables()
    started = time.perf_counter()
    index = tfrs.layers.factorized_top_k.BruteForce(k=k)
    index.index(tf.convert_to_tensor(candidates))
    users = np.asarray(users, dtype=np.int32)
    positives = np.asarray(positives, dtype=np.int32)
    ranks = np.full(len(users), k, dtype=np.int64)  # "not in the top k" unless found below
    excluded = [np.setdiff1d(exclude[i], positives[i]) for i in range(len(users))]
    # one width for every batch (padded with -1, no song): one trace of TFRS's query, not one
    # per batch
    width = max([1, *(len(songs) for songs in excluded)])
    for start in range(0, len(users), batch):
        stop = min(start + batch, len(users))
        exclusions = np.full((stop - start, width), -1, dtype=np.int32)
        for row, songs in enumerate(excluded[start:stop]):
            exclusions[row, : len(songs)] = songs
        query = tf.gather(queries, users[start:stop])
        _, top = index.query_with_exclusions(query, tf.constant(exclusions), k=k)
        hits = top.numpy() == positives[start:stop, None]
        found = hits.any(axis=1)
        ranks[start:stop][found] = hits.argmax(axis=1)[found]
    return _metrics(ranks, k, started)


def training_exclusions(
    train_items: Sequence[np.ndarray], users: np.ndarray, extra: Mapping[int, int] | None = None
) -> list[np.ndarray]:
    """Per evaluated user, the songs that do not compete: their training songs (and ``extra``).

    Args:
        train_items: per user index, their training song indices.
        users: the evaluated users ``[U]``.
        extra: optional user index -> one more song to exclude (the validation song when
            evaluating on test); users missing from it get none.
    """
    extra = extra or {}
    out = []
    for user in np.asarray(users).tolist():
        songs = np.asarray(train_items[user], dtype=np.int64)
        if user in extra:
            songs = np.append(songs, extra[user])
        out.append(songs)
    return out
