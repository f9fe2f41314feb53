"""Song dropout (DropoutNet, Volkovs et al., 2017): COAT trained with the new-song embedding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from coat_tf import config as cfg
from coat_tf.config import ModelConfig, RunConfig
from coat_tf.export import CONFIG_FILE, EXPORT_INFO, EXTRA_DIR
from coat_tf.layers import GMF
from coat_tf.models.coat import CoatRecommender, build_coat_model
from coat_tf.models.registry import build_model, get_spec
from coat_tf.train import main
from tests.layer_checks import assert_config_round_trip
from tests.tiny_data import prepare_tiny

USERS, SONGS, CHORDS, LENGTH = 9, 31, 12, 10


def _config(song_dropout: float = 0.0, mode: str = "learned") -> ModelConfig:
    return ModelConfig(
        num_users=USERS,
        num_songs=SONGS,
        num_chords=CHORDS,
        sequence_length=LENGTH,
        embedding_size=8,
        attention_mode=mode,
        song_dropout=song_dropout,
    )


def _chords() -> np.ndarray:
    return np.random.default_rng(0).integers(0, CHORDS, (SONGS, LENGTH)).astype(np.int32)


def _inputs(users, songs, chords: np.ndarray) -> dict[str, tf.Tensor]:  # noqa: ANN001
    return {
        "user_id": tf.constant(users, tf.int32),
        "song_id": tf.constant(songs, tf.int32),
        "chord_ids": tf.constant(chords, tf.int32),
    }


@pytest.mark.parametrize("mode", ["learned", "uniform", "ones"])
def test_at_p_1_training_scores_are_the_new_song_scores(mode: str) -> None:
    """At ``p = 1`` every training example's GMF term reads ``mean_j Q[j]``: the score does not
    depend on the song id, and it is what ``score_new_songs`` gives the same chords (which reads
    the same mean at inference, with the same weights)."""
    model = build_coat_model(_config(1.0, mode))
    recommender = CoatRecommender(model, USERS, SONGS, {"chord_ids": _chords()})
    chords = np.repeat(_chords()[3:4], 4, axis=0)  # one chord sequence for every row
    users = [2, 2, 5, 5]
    songs = [0, 17, 4, 30]  # two different songs for each user
    trained = model(_inputs(users, songs, chords), training=True).numpy()
    np.testing.assert_array_equal(trained[0], trained[1])
    np.testing.assert_array_equal(trained[2], trained[3])
    new = recommender.score_new_songs(tf.constant(users), tf.constant(chords)).numpy()
    np.testing.assert_allclose(trained, new, rtol=1e-6, atol=1e-7)
    # at inference the song's own embedding counts again
    inference = model(_inputs(users, songs, chords), training=False).numpy()
    assert inference[0] != inference[1]


def test_inference_does_not_depend_on_p() -> None:
    """A model with song dropout scores at inference exactly as one without it, weights equal;
    at ``p = 0`` the training output is the inference output (nothing is drawn)."""
    dropped = build_coat_model(_config(0.5))
    plain = build_coat_model(_config(0.0))
    plain.set_weights(dropped.get_weights())
    batch = _inputs([0, 1, 2, 8], [3, 4, 5, 30], _chords()[:4])
    np.testing.assert_array_equal(
        dropped(batch, training=False).numpy(), plain(batch, training=False).numpy()
    )
    np.testing.assert_array_equal(plain(batch, training=True).numpy(), plain(batch).numpy())


def test_p_0_is_plain_coat_with_the_same_seed(tmp_path: Path) -> None:
    """The same seed builds the same weights, under the same names, so that a checkpoint of
    COAT loads into COAT with song dropout and back; the name tells the two apart."""
    tf.keras.utils.set_random_seed(7)
    plain = build_model("coat", _config())
    tf.keras.utils.set_random_seed(7)
    zero = build_coat_model(_config(0.0))
    tf.keras.utils.set_random_seed(7)
    dropped = build_model("coat-song-dropout", _config())
    assert plain.name == zero.name == "coat" and dropped.name == "coat_song_dropout"
    assert [w.name for w in plain.weights] == [w.name for w in dropped.weights]
    for a, b, c in zip(plain.get_weights(), zero.get_weights(), dropped.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    plain.save_weights(str(tmp_path / "plain"))
    restored = build_coat_model(_config(0.5))
    restored.load_weights(str(tmp_path / "plain")).assert_consumed()
    for a, b in zip(plain.get_weights(), restored.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_seed_governs_the_draws() -> None:
    layer = GMF(USERS, SONGS, 4, song_dropout=0.5)
    users = tf.zeros([4000], tf.int32)
    songs = tf.range(4000) % SONGS

    def dropped_rows(seed: int) -> np.ndarray:
        tf.keras.utils.set_random_seed(seed)
        out, _ = layer([users, songs], training=True)
        mean = tf.reduce_mean(layer.song_embeddings, axis=0) * layer.user_embeddings[0]
        return np.all(out.numpy() == mean.numpy()[None, :], axis=1)

    first, again, other = dropped_rows(1), dropped_rows(1), dropped_rows(2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert 0.45 < first.mean() < 0.55  # about p of the rows


def test_the_mean_passes_its_gradient_to_every_song() -> None:
    layer = GMF(USERS, SONGS, 4, song_dropout=1.0)
    layer.build(None)
    with tf.GradientTape() as tape:
        out, _ = layer([tf.constant([0, 1]), tf.constant([2, 2])], training=True)
        loss = tf.reduce_sum(out)
    gradient = tf.convert_to_tensor(tape.gradient(loss, layer.song_embeddings)).numpy()
    expected = (layer.user_embeddings[0] + layer.user_embeddings[1]).numpy() / SONGS
    np.testing.assert_allclose(gradient, np.tile(expected, (SONGS, 1)), rtol=1e-6)


def test_gmf_layer_checks_and_keeps_song_dropout() -> None:
    assert_config_round_trip(GMF(3, 2, 4, song_dropout=0.25, name="g"))
    assert GMF.from_config(GMF(3, 2, 4, song_dropout=0.25).get_config()).song_dropout == 0.25
    old = GMF(3, 2, 4).get_config()
    del old["song_dropout"]  # a layer saved before song dropout existed
    assert GMF.from_config(old).song_dropout == 0.0
    for bad in (-0.1, 1.5, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match=r"song_dropout must be a number in \[0, 1\]"):
            GMF(3, 2, 4, song_dropout=bad)


def test_configs_check_song_dropout() -> None:
    with pytest.raises(ValueError, match=r"song_dropout must be a number in \[0, 1\], got 1.5"):
        ModelConfig(song_dropout=1.5)
    for name in ("gmf", "neumf", "wmf", "popularity"):
        with pytest.raises(ValueError, match=f"model {name!r} has no song dropout"):
            RunConfig(model=ModelConfig(song_dropout=0.2), model_name=name)
    for name in ("coat", "coat-uniform", "coat-ones"):
        assert RunConfig(model=ModelConfig(song_dropout=0.2), model_name=name).model.song_dropout
        assert RunConfig(model_name=name).model.song_dropout == 0.0
    assert RunConfig(model_name="coat-song-dropout").model.song_dropout == 0.5
    run = RunConfig(model=ModelConfig(song_dropout=0.3), model_name="coat-song-dropout")
    assert run.model.song_dropout == 0.3
    assert cfg.from_json(RunConfig, cfg.to_json(run)) == run
    assert get_spec("coat-song-dropout").content == "chord_ids"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return prepare_tiny(tmp_path_factory.mktemp("tiny"))


def _train(tiny: Path, tmp_path: Path, *options: str) -> int:
    return main(
        [
            "--data",
            str(tiny),
            "--run-dir",
            str(tmp_path / "run"),
            "--export-dir",
            str(tmp_path / "saved"),
            "--epochs",
            "1",
            "--batch-size",
            "256",
            "--embedding-size",
            "8",
            "--no-full-catalogue",
            "--quiet",
            *options,
        ]
    )


def test_coat_song_dropout_trains_and_records_p(tiny: Path, tmp_path: Path) -> None:
    """One epoch of ``coat-song-dropout``: ``config.json`` and the export's recorded config
    hold ``p``, and the export scores like the run's model."""
    assert _train(tiny, tmp_path, "--model", "coat-song-dropout") == 0
    run = cfg.load(RunConfig, tmp_path / "run" / "config.json")
    assert run.model_name == "coat-song-dropout" and run.model.song_dropout == 0.5
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0 <= metrics["test"]["sampled"]["ndcg"] <= 1
    version = tmp_path / "saved" / "coat_song_dropout" / "1"
    info = json.loads((version / EXTRA_DIR / EXPORT_INFO).read_text())
    assert info["model_name"] == "coat-song-dropout"
    assert info["model_config"]["song_dropout"] == 0.5
    exported = cfg.load(RunConfig, version / EXTRA_DIR / CONFIG_FILE)
    assert exported.model.song_dropout == 0.5
    loaded = tf.saved_model.load(str(version))
    scores = loaded.signatures["serving_default"](
        user_id=tf.constant([0, 1], tf.int32), song_id=tf.constant([2, 3], tf.int32)
    )
    assert all(np.isfinite(v.numpy()).all() for v in scores.values())


def test_the_song_dropout_option(tiny: Path, tmp_path: Path, capsys) -> None:
    assert _train(tiny, tmp_path, "--model", "coat-uniform", "--song-dropout", "0.25") == 0
    run = cfg.load(RunConfig, tmp_path / "run" / "config.json")
    assert run.model.song_dropout == 0.25 and run.model.attention_mode == "uniform"
    assert (tmp_path / "saved" / "coat_uniform_song_dropout" / "1").is_dir()
    code = _train(tiny, tmp_path / "zero", "--model", "coat-song-dropout", "--song-dropout", "0")
    assert code == 2
    assert "choose --model coat" in capsys.readouterr().err


def test_experiments_plan_coat_song_dropout(tmp_path: Path) -> None:
    """``--models coat-song-dropout`` is a model of any experiment; a config file's entry for it
    sets its own ``p``."""
    from coat_tf.experiments.plan import plan

    shapes = {"num_users": USERS, "num_songs": SONGS}
    overrides = {"defaults": {}, "models": {}}
    runs = plan("table1", ["coat", "coat-song-dropout"], [8], [0], tmp_path, shapes, "d", overrides)
    assert [(r.model, r.config.model.song_dropout) for r in runs] == [
        ("coat", 0.0),
        ("coat-song-dropout", 0.5),
    ]
    overrides["models"] = {"coat-song-dropout": {"model": {"song_dropout": 0.8}}}
    (run,) = plan("table1", ["coat-song-dropout"], [8], [0], tmp_path, shapes, "d", overrides)
    assert run.config.model.song_dropout == 0.8
