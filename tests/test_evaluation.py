from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from coat_tf import evaluation as ev
from coat_tf.config import ModelConfig
from coat_tf.models import GmfRecommender, Unsupported, WmfRecommender, build_gmf_model
from coat_tf.models.recommender import pairwise_score_all


class TableScorer:
    """Scores from a fixed [users, songs] table."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = np.asarray(table, dtype=np.float32)

    def score_pairs(self, users, songs):  # noqa: ANN001, ANN201
        return tf.constant(self.table[np.asarray(users), np.asarray(songs)])

    def score_all(self, users):  # noqa: ANN001, ANN201
        return tf.constant(self.table[np.asarray(users)])


def test_metrics_by_hand() -> None:
    ranks = np.array([0, 1, 9, 10, 50])
    assert ev.hit_ratio(ranks, 10) == pytest.approx(3 / 5)
    expected = (1 + 1 / math.log2(3) + 1 / math.log2(11)) / 5
    assert ev.ndcg(ranks, 10) == pytest.approx(expected)


def test_ties_count_against_the_model() -> None:
    scores = np.array([[0.5, 0.5, 0.1, 0.9], [0.7, 0.1, 0.2, 0.3], [0.2, 0.2, 0.2, 0.2]])
    np.testing.assert_array_equal(ev.candidate_ranks(scores), [2, 0, 3])
    # a constant scorer never hits at k <= number of negatives
    assert ev.hit_ratio(ev.candidate_ranks(scores[2:]), 3) == 0


def _reference_sampled(table, users, items, k):
    hr, gains = [], []
    for u, row in zip(users, items, strict=True):
        s = table[u, row]
        rank = sum(1 for j in range(1, len(row)) if s[j] >= s[0])
        hr.append(rank < k)
        gains.append(1 / math.log2(rank + 2) if rank < k else 0.0)
    return np.mean(hr), np.mean(gains)


def test_sampled_matches_a_plain_reference() -> None:
    rng = np.random.default_rng(3)
    table = np.round(rng.random((40, 200)), 2)  # rounding makes ties
    users = np.arange(40)
    items = np.stack([rng.choice(200, 100, replace=False) for _ in users])
    got = ev.sampled(TableScorer(table), users, items, k=10, batch=7)
    hr, ndcg = _reference_sampled(table, users, items, 10)
    assert (got.hr, got.ndcg, got.users) == (pytest.approx(hr), pytest.approx(ndcg), 40)


def test_full_catalogue_matches_a_plain_reference() -> None:
    rng = np.random.default_rng(4)
    table = np.round(rng.random((30, 80)), 2)
    users = np.arange(30)
    positives = rng.integers(0, 80, 30)
    exclude = [np.setdiff1d(rng.choice(80, 10, replace=False), [p]) for p in positives]
    got = ev.full_catalogue(TableScorer(table), users, positives, exclude, k=5, batch=4)
    ranks = []
    for u, p, ex in zip(users, positives, exclude, strict=True):
        others = [j for j in range(80) if j != p and j not in set(ex)]
        ranks.append(sum(table[u, j] >= table[u, p] for j in others))
    assert got.hr == pytest.approx(ev.hit_ratio(np.array(ranks), 5))
    assert got.ndcg == pytest.approx(ev.ndcg(np.array(ranks), 5))


def test_excluded_songs_do_not_compete() -> None:
    table = np.array([[0.1, 0.9, 0.8, 0.5]])
    assert ev.full_catalogue(TableScorer(table), [0], [3], [np.array([])], k=1).hr == 0
    assert ev.full_catalogue(TableScorer(table), [0], [3], [np.array([1, 2])], k=1).hr == 1


class Pairwise:
    """A recommender whose ``score_all`` is the generic pair-by-pair path."""

    def __init__(self, recommender) -> None:  # noqa: ANN001
        self.recommender = recommender

    def score_pairs(self, users, songs):  # noqa: ANN001, ANN201
        return self.recommender.score_pairs(users, songs)

    def score_all(self, users):  # noqa: ANN001, ANN201
        return pairwise_score_all(self.recommender, users)


def _dot_product_models() -> dict:
    config = ModelConfig(num_users=50, num_songs=300, num_chords=2, embedding_size=16)
    rng = np.random.default_rng(6)
    return {
        "gmf": GmfRecommender(build_gmf_model(config), 50, 300),
        "wmf": WmfRecommender(rng.normal(size=(50, 16)), rng.normal(size=(300, 16))),
    }


@pytest.mark.parametrize("name", ["gmf", "wmf"])
def test_tfrs_brute_force_agrees_with_the_generic_path(name: str) -> None:
    recommender = _dot_product_models()[name]
    rng = np.random.default_rng(5)
    users = np.arange(50)
    positives = rng.integers(0, 300, 50)
    exclude = [np.setdiff1d(rng.choice(300, 20, replace=False), [p]) for p in positives]
    generic = ev.full_catalogue(Pairwise(recommender), users, positives, exclude, k=50)
    fast = ev.full_catalogue(recommender, users, positives, exclude, k=50)
    tfrs = ev.full_catalogue_tfrs(recommender, users, positives, exclude, k=50, batch=16)
    assert generic.hr > 0
    assert (fast.hr, fast.ndcg) == (pytest.approx(generic.hr), pytest.approx(generic.ndcg))
    assert tfrs.hr == pytest.approx(generic.hr)
    assert tfrs.ndcg == pytest.approx(generic.ndcg, abs=1e-9)


def test_tfrs_path_refuses_models_that_are_not_dot_products() -> None:
    from coat_tf.models import build_mlp_model
    from coat_tf.models.recommender import KerasRecommender

    config = ModelConfig(num_users=5, num_songs=30, embedding_size=8)
    mlp = KerasRecommender(build_mlp_model(config), 5, 30)
    with pytest.raises(Unsupported, match="dot-product"):
        ev.full_catalogue_tfrs(mlp, [0], [1], [np.array([])], k=5)


def test_training_exclusions_add_the_validation_song() -> None:
    train = [np.array([1, 2]), np.array([5])]
    out = ev.training_exclusions(train, np.array([1, 0]), extra={1: 7, 0: 8})
    np.testing.assert_array_equal(out[0], [5, 7])
    np.testing.assert_array_equal(out[1], [1, 2, 8])
    without = ev.training_exclusions(train, np.array([1, 0]), extra={1: 7})
    np.testing.assert_array_equal(without[1], [1, 2])


def test_non_finite_scores_are_never_hits() -> None:
    nan, inf = float("nan"), float("inf")
    scores = np.array(
        [
            [nan, 0.1, 0.2, 0.3],  # a NaN held-out song ranks last
            [inf, 0.1, 0.2, 0.3],  # so does an infinite one
            [0.9, nan, 0.2, 0.3],  # a NaN competitor ranks above it
            [0.9, -inf, 0.2, 0.3],  # a competitor at -inf is simply below it
        ]
    )
    np.testing.assert_array_equal(ev.candidate_ranks(scores), [3, 3, 1, 0])


def test_a_diverged_model_fails_loudly_and_a_partly_broken_one_is_counted() -> None:
    table = np.full((3, 20), np.nan)
    users, items = np.arange(3), np.tile(np.arange(11), (3, 1))
    with pytest.raises(ev.NonFiniteScoresError, match="every one of the 3 held-out songs"):
        ev.sampled(TableScorer(table), users, items, k=10)
    with pytest.raises(ev.NonFiniteScoresError):
        ev.full_catalogue(TableScorer(table), users, np.zeros(3, int), [[]] * 3, k=10)

    table = np.tile(np.linspace(1.0, 0.0, 20), (3, 1))  # song 0 first for everyone
    table[1, 0] = np.nan  # user 1's held-out song: NaN
    table[2, 5] = np.nan  # a competitor of user 2: NaN
    sampled = ev.sampled(TableScorer(table), users, items, k=10)
    assert (sampled.non_finite, sampled.hr) == (1, pytest.approx(2 / 3))
    full = ev.full_catalogue(TableScorer(table), users, np.zeros(3, int), [[]] * 3, k=1)
    assert full.non_finite == 1
    assert full.hr == pytest.approx(1 / 3)  # user 2's NaN competitor ranks above song 0


def test_a_cut_off_beyond_the_candidate_lists_is_refused() -> None:
    from types import SimpleNamespace

    from coat_tf.data.splits import Candidates

    def lists(width: int) -> Candidates:
        return Candidates(np.arange(3, dtype=np.int32), np.zeros((3, width), np.int32))

    data = SimpleNamespace(path="d", valid=lists(100), test=lists(100))
    ev.check_top_k(1, data)
    ev.check_top_k(100, data)  # HR@100 of 100 candidates: every song a hit, but not beyond
    with pytest.raises(ValueError, match=r"top_k \(--top-k\) is 101.*d: 100 songs per user"):
        ev.check_top_k(101, data)
    shorter = SimpleNamespace(path="d", valid=lists(100), test=lists(6))
    with pytest.raises(ValueError, match="6 songs per user .* 5 stored negatives"):
        ev.check_top_k(10, shorter)
