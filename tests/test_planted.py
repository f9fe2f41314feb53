from __future__ import annotations

import numpy as np
import pytest

from coat_tf.config import ModelConfig
from coat_tf.inspection.planted import planted_attention_mass
from coat_tf.models import CoatRecommender, build_coat_model

CONFIG = {"num_users": 6, "num_songs": 8, "num_chords": 5, "embedding_size": 4}


def _chords() -> np.ndarray:
    rng = np.random.default_rng(0)
    chords = rng.integers(0, 3, (8, 100)).astype("int32")
    chords[:4, ::10] = 3  # songs 0-3 hold chord 3 at 10 positions
    return chords


def _recommender(model) -> CoatRecommender:  # noqa: ANN001
    return CoatRecommender(model, 6, 8, {"chord_ids": _chords()})


def test_uniform_attention_gives_exactly_the_share() -> None:
    model = build_coat_model(ModelConfig(**CONFIG, attention_mode="uniform"))
    result = planted_attention_mass(_recommender(model), _chords(), {3: [0, 1]}, controls=[4, 5])
    assert result.share == pytest.approx(0.1)
    assert result.mass == pytest.approx(0.1)
    assert result.control_mass == pytest.approx(0.1)
    assert result.lift == pytest.approx(1.0)
    assert result.pairs == 2 * 4


def test_attention_focused_on_the_chord_is_measured() -> None:
    model = build_coat_model(ModelConfig(**CONFIG))
    layer = model.get_layer("chord_attention")
    embeddings = np.zeros((5, 4), "f4")
    embeddings[3] = 5.0
    layer.chord_embeddings.assign(embeddings)
    layer.chord_kernel.assign(np.eye(4, dtype="f4"))
    for weight in (layer.user_kernel, layer.position_kernel, layer.position_embeddings):
        weight.assign(np.zeros(weight.shape, "f4"))
    layer.score_vector.assign(np.ones(4, "f4"))
    # a_i = 20 where chord 3 sits, 0 elsewhere: softmax puts nearly all mass there
    result = planted_attention_mass(_recommender(model), _chords(), {3: [0, 1]}, controls=[4, 5])
    assert result.mass > 0.99
    assert result.share == pytest.approx(0.1)
    assert result.lift > 9.9
