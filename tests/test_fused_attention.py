"""The fused chord attention op against the split form it replaces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from coat_tf.layers import ChordAttention, fused
from coat_tf.layers.chord_attention import split_graph

REPO = Path(__file__).resolve().parents[1]

needs_op = pytest.mark.skipif(
    not fused.available(),
    reason=f"fused chord attention op not built ({fused.unavailable_reason()})",
)

# (batch, length, vocabulary, attention size): A below, at and off the vector width,
# a vocabulary of 1 and 2 (every chord repeated), a batch of one.
SHAPES = [(1, 1, 1, 1), (3, 4, 2, 7), (37, 11, 5, 13), (64, 100, 25, 64), (9, 100, 205, 17)]


def random_inputs(batch: int, length: int, vocabulary: int, size: int, seed: int = 0) -> list:
    """User terms, chord ids, chord table, position table, score vector (numpy)."""
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(batch, size)).astype("f4"),
        rng.integers(0, vocabulary, size=(batch, length)).astype("i4"),
        rng.normal(size=(vocabulary, size)).astype("f4"),
        rng.normal(size=(length, size)).astype("f4"),
        rng.normal(size=(size,)).astype("f4"),
    ]


def split_scores(user, ids, chords, positions, vector) -> tf.Tensor:  # noqa: ANN001
    """The split form's scores: what the fused op replaces."""
    hidden = tf.nn.relu(user[:, None, :] + tf.gather(chords, ids) + positions[None])
    return tf.einsum("bla,a->bl", hidden, vector)


def max_errors(shape: tuple[int, int, int, int], seed: int = 0) -> dict[str, float]:
    """The largest differences of the fused op's scores and gradients from the split form's,
    relative to the largest value of each."""
    user, ids, chords, positions, vector = (tf.constant(x) for x in random_inputs(*shape, seed))
    upstream = tf.constant(np.random.default_rng(seed + 1).normal(size=ids.shape).astype("f4"))
    found = {}
    for name, function in (("fused", fused.chord_scores), ("split", split_scores)):
        with tf.GradientTape() as tape:
            tape.watch([user, chords, positions, vector])
            scores = function(user, ids, chords, positions, vector)
        grads = tape.gradient(scores, [user, chords, positions, vector], upstream)
        found[name] = [np.asarray(tf.convert_to_tensor(x)) for x in (scores, *grads)]
    names = ["scores", "user", "chords", "positions", "vector"]
    return {
        n: float(np.abs(f - s).max() / max(1.0, np.abs(s).max()))
        for n, f, s in zip(names, found["fused"], found["split"], strict=True)
    }


@needs_op
@pytest.mark.parametrize("shape", SHAPES)
def test_scores_and_gradients_equal_the_split_form(shape) -> None:
    errors = max_errors(shape)
    assert max(errors.values()) < 1e-5, errors


@needs_op
@pytest.mark.parametrize("threads", [1, 5])
def test_one_and_several_threads_agree_with_the_split_form(threads: int) -> None:
    script = (
        "import json, sys, tensorflow as tf\n"
        f"tf.config.threading.set_intra_op_parallelism_threads({threads})\n"
        "from tests.test_fused_attention import max_errors\n"
        "print(json.dumps([max_errors(s) for s in [(1, 3, 2, 9), (50, 100, 25, 64)]]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for errors in json.loads(done.stdout.strip().splitlines()[-1]):
        assert max(errors.values()) < 1e-5, errors


@needs_op
def test_gradient_agrees_with_finite_differences() -> None:
    # inputs whose pre-activations all keep off the ReLU's kink by more than the step
    for seed in range(100):
        user, ids, chords, positions, vector = random_inputs(3, 4, 3, 11, seed=seed)
        if np.abs(user[:, None] + chords[ids] + positions[None]).min() > 0.02:
            break

    def scores(u, c, p, h) -> tf.Tensor:  # noqa: ANN001
        return fused.chord_scores(u, ids, c, p, h)

    theoretical, numerical = tf.test.compute_gradient(
        scores, [user, chords, positions, vector], delta=1e-3
    )
    for mine, theirs in zip(theoretical, numerical, strict=True):
        np.testing.assert_allclose(mine, theirs, atol=2e-2)


@needs_op
def test_bad_chord_ids_and_shapes_are_refused() -> None:
    user, ids, chords, positions, vector = random_inputs(2, 3, 4, 5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="chord id 4 is not in"):
        fused.chord_scores(user, np.full_like(ids, 4), chords, positions, vector)
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match="positions|Dimensions"):
        fused.chord_scores(user, ids, chords, positions[:2], vector)


def _layer(implementation: str) -> ChordAttention:
    return ChordAttention(
        num_chords=7,
        sequence_length=12,
        embedding_size=5,
        attention_size=13,
        implementation=implementation,
    )


def _layer_outputs(layer: ChordAttention, user: tf.Tensor, ids: tf.Tensor) -> list[np.ndarray]:
    with tf.GradientTape() as tape:
        attended, weights = layer([user, ids])
        loss = tf.reduce_sum(attended * attended) + tf.reduce_sum(weights[:, :3])
    grads = tape.gradient(loss, [user, *layer.trainable_weights])
    return [attended.numpy(), weights.numpy(), *(tf.convert_to_tensor(g).numpy() for g in grads)]


@needs_op
def test_fused_layer_equals_the_split_layer() -> None:
    user = tf.Variable(tf.random.normal((20, 5)))
    ids = tf.constant(np.random.default_rng(0).integers(0, 7, (20, 12)), tf.int32)
    split, fused_layer = _layer("split"), _layer("fused")
    split([user, ids])
    fused_layer([user, ids])
    fused_layer.set_weights(split.get_weights())
    assert fused_layer.uses_fused_op() and not split.uses_fused_op()
    for mine, theirs in zip(
        _layer_outputs(fused_layer, user, ids), _layer_outputs(split, user, ids), strict=True
    ):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


@needs_op
def test_auto_is_fused_on_cpu_but_split_for_export_and_xla() -> None:
    layer = _layer("auto")
    assert layer.active_implementation() == "fused"
    with split_graph():
        assert layer.active_implementation() == "split"
    seen = []

    @tf.function(jit_compile=True)
    def traced() -> tf.Tensor:
        seen.append(layer.active_implementation())
        return tf.constant(0)

    traced()
    assert seen == ["split"]


@pytest.mark.parametrize("implementation", ["auto", "split", "concat"])
def test_implementation_survives_the_config_round_trip(implementation: str) -> None:
    config = _layer(implementation).get_config()
    assert ChordAttention.from_config(config).implementation == implementation


def test_without_the_op_auto_is_split_and_fused_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(fused, "available", lambda: False)
    monkeypatch.setattr(fused, "unavailable_reason", lambda: "_chord_scores.so is not built")
    assert _layer("auto").active_implementation() == "split"
    with pytest.raises(ValueError, match="implementation='fused' is unavailable: _chord_sc"):
        _layer("fused")


def test_training_says_in_one_line_when_the_split_form_stands_in(monkeypatch) -> None:
    from coat_tf.runner import attention_note

    user = tf.keras.Input((5,))
    ids = tf.keras.Input((12,), dtype=tf.int32)
    model = tf.keras.Model([user, ids], _layer("auto")([user, ids])[0])
    monkeypatch.setattr(fused, "available", lambda: False)
    monkeypatch.setattr(fused, "unavailable_reason", lambda: "_chord_scores.so is not built")
    assert attention_note(model) == (
        "chord attention: split form (fused op unavailable: _chord_scores.so is not built)"
    )
    monkeypatch.setattr(fused, "available", lambda: True)
    assert attention_note(model) is None


def test_xla_is_off_for_a_step_that_runs_the_fused_op_but_on_for_its_optimizer() -> None:
    from coat_tf.models import get_spec
    from coat_tf.runner import optimizer_xla, use_xla

    strategy = tf.distribute.get_strategy()
    assert use_xla(True, get_spec("coat"), strategy, fused_op=False)
    assert not use_xla(True, get_spec("coat"), strategy, fused_op=True)
    # the optimizer's update alone is compiled instead, as configured
    assert optimizer_xla(True, strategy, fused_op=True)
    assert not optimizer_xla(False, strategy, fused_op=True)
    assert not optimizer_xla(True, strategy, fused_op=False)


@pytest.mark.parametrize(
    ("compiler", "words"),
    [("no-such-compiler", "no C++ compiler found"), ("false", "false failed: exit status 1")],
)
def test_a_failed_build_says_why_in_one_line_and_keeps_no_library(
    compiler: str, words: str, monkeypatch, capsys, tmp_path
) -> None:
    from coat_tf.layers.fused import build

    target = tmp_path / "_chord_scores.so"
    monkeypatch.setenv("CXX", compiler)
    monkeypatch.setattr(build, "LIBRARY", target)
    assert build.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: chord_scores.cc: ") and words in err
    assert not list(tmp_path.iterdir())


@needs_op
def test_training_with_either_implementation_gives_the_same_model() -> None:
    from coat_tf.config import ModelConfig
    from coat_tf.models import build_coat_model

    config = ModelConfig(num_users=30, num_songs=20, num_chords=6, embedding_size=8)
    rng = np.random.default_rng(0)
    features = {
        "user_id": rng.integers(0, 30, 256).astype("i4"),
        "song_id": rng.integers(0, 20, 256).astype("i4"),
        "chord_ids": rng.integers(0, 6, (256, config.sequence_length)).astype("i4"),
    }
    labels = (rng.random(256) < 0.3).astype("f4")
    found = {}
    for implementation in ("fused", "split"):
        tf.keras.utils.set_random_seed(0)
        model = build_coat_model(config, implementation=implementation)
        model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="binary_crossentropy")
        history = model.fit(features, labels, batch_size=32, epochs=3, shuffle=False, verbose=0)
        found[implementation] = (history.history["loss"], model.predict(features, verbose=0))
    np.testing.assert_allclose(found["fused"][0], found["split"][0], rtol=1e-4)
    np.testing.assert_allclose(found["fused"][1], found["split"][1], atol=1e-4)
