from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.models import build_coat_model, build_neumf_model
from coat_tf.scoring import CatalogueScorer, CoatCatalogueScorer, make_catalogue_scorer

CONFIG = {"num_users": 7, "num_songs": 23, "num_chords": 9, "embedding_size": 8}


def _chords(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 9, (23, 100)).astype("int32")


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"attention_mode": "uniform"}, {"attention_user_embedding": "separate"}],
)
def test_coat_precomputed_scores_equal_the_model(kwargs) -> None:
    model = build_coat_model(ModelConfig(**CONFIG, **kwargs))
    chords = _chords()
    fast = make_catalogue_scorer(model, chords, song_chunk=5)
    assert isinstance(fast, CoatCatalogueScorer)
    users = tf.constant([0, 3, 6])
    scores = fast.score_all(users).numpy()
    assert scores.shape == (3, 23)
    generic = CatalogueScorer(model, chords, song_chunk=4).score_all(users).numpy()
    np.testing.assert_allclose(scores, generic, atol=1e-6)
    direct = model(
        {
            "user_id": np.repeat([0, 3, 6], 23),
            "song_id": np.tile(np.arange(23), 3),
            "chord_ids": np.tile(chords, (3, 1)),
        }
    ).numpy()
    np.testing.assert_allclose(scores.ravel(), direct, atol=1e-6)


def test_pairs_look_up_the_chords_of_each_song() -> None:
    model = build_coat_model(ModelConfig(**CONFIG))
    chords = _chords(1)
    scorer = make_catalogue_scorer(model, chords)
    got = scorer.score_pairs(tf.constant([1, 2]), tf.constant([5, 22])).numpy()
    want = model(
        {"user_id": np.array([1, 2]), "song_id": np.array([5, 22]), "chord_ids": chords[[5, 22]]}
    ).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_models_without_chords_use_the_generic_scorer() -> None:
    model = build_neumf_model(ModelConfig(**CONFIG))
    scorer = make_catalogue_scorer(model, _chords())
    assert type(scorer) is CatalogueScorer
    assert scorer.score_all(tf.constant([0, 1])).shape == (2, 23)
