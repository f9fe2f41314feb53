from __future__ import annotations

import logging
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from coat_tf.chords.vocabulary import ChordVocabulary
from coat_tf.config import ModelConfig
from coat_tf.data import Candidates, PreparedDataset
from coat_tf.inspection import (
    AttentionSummary,
    Probes,
    attention_entropy,
    choose_probes,
    chord_mass,
    probe_attention,
    render_attention,
    song_display_names,
    top_chords_markdown,
    user_chords,
)
from coat_tf.models import CoatRecommender, KerasRecommender, build_coat_model, build_neumf_model


def _coat(config: ModelConfig, chords: np.ndarray | None = None) -> CoatRecommender:
    """A COAT model behind its scoring interface."""
    if chords is None:
        chords = np.zeros((config.num_songs, config.sequence_length), np.int32)
    model = build_coat_model(config)
    return CoatRecommender(model, config.num_users, config.num_songs, {"chord_ids": chords})


def _reference_attention(model: tf.keras.Model, probes: Probes) -> np.ndarray:
    """The attention layer's own output inside the Keras model."""
    inside = tf.keras.Model(model.input, model.get_layer("chord_attention").output[1])
    return inside.predict(probes.inputs(), verbose=0)


LABELS = ChordVocabulary.from_name("majmin").labels


# -- measures ------------------------------------------------------------------------------


def test_chord_mass_by_hand() -> None:
    weights = np.array([[0.5, 0.25, 0.125, 0.125], [0.1, 0.2, 0.3, 0.4]])
    chords = np.array([[2, 0, 2, 3], [1, 1, 1, 1]])
    mass = chord_mass(weights, chords, num_chords=5)
    expected = np.array([[0.25, 0.0, 0.625, 0.125, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(mass, expected, rtol=0, atol=1e-15)
    assert mass.dtype == np.float64
    np.testing.assert_allclose(mass.sum(axis=1), weights.sum(axis=1))


def test_chord_mass_accepts_tensors_and_checks_its_input() -> None:
    weights = tf.constant([[0.75, 0.25]])
    np.testing.assert_allclose(chord_mass(weights, tf.constant([[1, 0]]), 2), [[0.25, 0.75]])
    with pytest.raises(ValueError, match="chord id 7 outside"):
        chord_mass([[0.5, 0.5]], [[0, 7]], 3)
    with pytest.raises(ValueError, match="differs"):
        chord_mass([[0.5, 0.5]], [[0, 1, 2]], 3)
    with pytest.raises(ValueError, match="integers"):
        chord_mass([[0.5, 0.5]], [[0.0, 1.0]], 3)
    with pytest.raises(ValueError, match="num_chords"):
        chord_mass([[0.5, 0.5]], [[0, 1]], 0)


def test_entropy_of_uniform_one_hot_and_two_point_weights() -> None:
    weights = np.zeros((3, 100))
    weights[0] = 1 / 100
    weights[1, 7] = 1.0
    weights[2, :2] = 0.5
    np.testing.assert_allclose(attention_entropy(weights), [math.log(100), 0.0, math.log(2)])
    with pytest.raises(ValueError, match="non-negative"):
        attention_entropy([[-0.1, 1.1]])


def test_user_chords_average_over_the_users_songs_and_rank() -> None:
    weights = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7], [0.25, 0.25, 0.25, 0.25]])
    chords = np.array([[1, 2, 2, 3], [2, 2, 3, 1], [4, 4, 4, 4]])
    users = np.array([5, 5, 2])
    found = user_chords(weights, chords, users, num_chords=6)
    assert [s.user for s in found] == [5, 2]
    first = found[0]
    assert first.num_songs == 2
    np.testing.assert_allclose(first.mass, [0, 0.7, 0.2, 0.1, 0, 0])
    np.testing.assert_allclose(first.share, [0, 0.25, 0.5, 0.25, 0, 0])
    assert first.top(2) == [1, 2]
    assert first.top(10) == [1, 2, 3]  # chords absent from the songs are never listed
    table = top_chords_markdown(first, LABELS, "alice", k=2)
    rows = [line for line in table.splitlines() if line.startswith("| 1") or line.startswith("| 2")]
    assert rows == [
        f"| 1 | {LABELS[1]} | 0.700 | 0.250 | 2.80 |",
        f"| 2 | {LABELS[2]} | 0.200 | 0.500 | 0.40 |",
    ]
    assert "alice" in table and "2 probe song(s)" in table


# -- probes --------------------------------------------------------------------------------


def _dataset(num_users: int = 6, num_songs: int = 12, length: int = 100) -> PreparedDataset:
    """A tiny prepared data set: user u listened to songs u .. u+4 (the last two held out)."""
    rng = np.random.default_rng(0)
    chords = rng.integers(1, len(LABELS), (num_songs, length)).astype(np.int32)
    chords[3] = 0  # one song without chords
    rows, valid, test = [], [], []
    for user in range(num_users):
        songs = [(user + k) % num_songs for k in range(5)]
        rows += [(user, song, 1, 0, 0) for song in songs[:3]]
        valid.append(songs[3])
        test.append(songs[4])
    train = pd.DataFrame(
        rows, columns=["user", "song", "play_count", "first_timestamp", "last_timestamp"]
    )
    users = np.arange(num_users, dtype=np.int32)
    negatives = np.zeros((num_users, 3), dtype=np.int32)
    names = pd.DataFrame(
        {"index": np.arange(num_songs), "id": [f"s{i}" for i in range(num_songs)]}
        | {"name": ["" if i % 2 else f"Song {i}" for i in range(num_songs)]}
    )
    return PreparedDataset(
        path=Path("."),
        manifest={},
        num_users=num_users,
        num_songs=num_songs,
        num_chords=len(LABELS),
        chords=chords,
        train=train,
        valid=Candidates(users, np.column_stack([valid, negatives]).astype(np.int32)),
        test=Candidates(users, np.column_stack([test, negatives]).astype(np.int32)),
        user_ids=[f"u{i}" for i in range(num_users)],
        song_ids=[f"s{i}" for i in range(num_songs)],
        vocabulary=ChordVocabulary.from_name("majmin"),
        songs=names,
    )


def test_choose_probes_is_seeded_and_follows_the_rule() -> None:
    data = _dataset()
    probes = choose_probes(data, num_users=3, songs_per_user=3, seed=4)
    again = choose_probes(data, num_users=3, songs_per_user=3, seed=4)
    np.testing.assert_array_equal(probes.users, again.users)
    np.testing.assert_array_equal(probes.songs, again.songs)
    assert probes.users.dtype == np.int32 and probes.songs.dtype == np.int32
    assert len(set(probes.users.tolist())) == 3 and len(probes) == 9
    train_items = data.train_items_by_user()
    for user in np.unique(probes.users):
        rows = np.flatnonzero(probes.users == user)
        assert probes.roles[rows[0]] == "validation positive"
        assert probes.songs[rows[0]] == data.valid.items[user, 0]
        for row in rows[1:]:
            assert probes.roles[row] == "train"
            assert probes.songs[row] in train_items[user]
    np.testing.assert_array_equal(probes.chords, data.chords[probes.songs])
    # the song without chords is avoided while a user has others
    assert 3 not in probes.songs[np.asarray(probes.roles) == "train"].tolist()


def test_choose_probes_explicit_pairs_and_users() -> None:
    data = _dataset()
    pairs = choose_probes(data, users=[1, 4], songs=[7, 2])
    assert pairs.users.tolist() == [1, 4] and pairs.songs.tolist() == [7, 2]
    assert pairs.roles == ["explicit", "explicit"]
    chosen = choose_probes(data, users=[2], songs_per_user=2)
    assert chosen.users.tolist() == [2, 2] and chosen.songs[0] == data.valid.items[2, 0]
    with pytest.raises(ValueError, match="song index 99 outside"):
        choose_probes(data, users=[0], songs=[99])
    with pytest.raises(ValueError, match="without users"):
        choose_probes(data, songs=[1])
    with pytest.raises(ValueError, match="songs_per_user"):
        choose_probes(data, songs_per_user=0)


def test_song_display_names_fall_back_to_ids() -> None:
    names = song_display_names(_dataset())
    assert names[:3] == ["Song 0", "s1", "Song 2"]


# -- images --------------------------------------------------------------------------------


def test_render_attention_gives_an_rgb_image() -> None:
    weights = np.full(100, 0.01)
    image = render_attention(weights, np.arange(100) % 25, LABELS, "title", width_inches=6)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[1] == 600
    assert image.std() > 0  # something was drawn
    with pytest.raises(ValueError, match="must both be"):
        render_attention(weights, np.arange(50) % 25, LABELS, "title")
    with pytest.raises(ValueError, match="chord_labels has 25"):
        render_attention(weights, np.arange(100), LABELS, "title")


# -- the callback --------------------------------------------------------------------------


def _events(folder: Path) -> dict[str, dict]:
    """tag -> {"plugin": name, "steps": {step: tensor proto}} over every event file."""
    found: dict[str, dict] = defaultdict(lambda: {"plugin": None, "steps": {}})
    files = sorted(folder.glob("events.out.tfevents.*"))
    assert files, f"no event files in {folder}"
    for path in files:
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                entry = found[value.tag]
                if value.metadata.plugin_data.plugin_name:
                    entry["plugin"] = value.metadata.plugin_data.plugin_name
                entry["steps"][event.step] = value.tensor
    return dict(found)


def _tiny_fit(model: tf.keras.Model, config: ModelConfig, callback, epochs: int) -> None:
    rng = np.random.default_rng(0)
    size = 64
    inputs = {
        "user_id": rng.integers(0, config.num_users, size).astype(np.int32),
        "song_id": rng.integers(0, config.num_songs, size).astype(np.int32),
        "chord_ids": rng.integers(0, config.num_chords, (size, 100)).astype(np.int32),
    }
    inputs = {k: v for k, v in inputs.items() if k in model.input}
    labels = rng.integers(0, 2, size).astype(np.float32)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    model.fit(inputs, labels, batch_size=32, epochs=epochs, verbose=0, callbacks=[callback])


def test_callback_writes_every_kind_of_summary_per_epoch(tmp_path: Path) -> None:
    data = _dataset()
    config = ModelConfig(
        num_users=data.num_users, num_songs=data.num_songs, num_chords=25, embedding_size=8
    )
    recommender = _coat(config)
    model = recommender.model
    probes = choose_probes(data, users=[0, 0, 5], songs=[1, 2, 6])
    callback = AttentionSummary(
        tmp_path,
        probes,
        LABELS,
        recommender,
        user_names=data.user_ids,
        song_names=song_display_names(data),
    )
    _tiny_fit(model, config, callback, epochs=2)

    events = _events(tmp_path / "attention")
    expected = {
        "attention/weights": "histograms",
        "attention/entropy": "histograms",
        "attention/mean_entropy": "scalars",
        "attention/mean_max_weight": "scalars",
        "attention_map/pair_00_user_0_song_1": "images",
        "attention_map/pair_01_user_0_song_2": "images",
        "attention_map/pair_02_user_5_song_6": "images",
        "top_chords/user_0": "text",
        "top_chords/user_5": "text",
    }
    assert set(events) == set(expected)
    for tag, plugin in expected.items():
        assert events[tag]["plugin"] == plugin, tag
        assert sorted(events[tag]["steps"]) == [0, 1, 2], tag

    # the last step's figures are those of the trained model
    weights = _reference_attention(model, probes)
    entropy = -(weights * np.log(weights)).sum(axis=1)
    scalar = tf.make_ndarray(events["attention/mean_entropy"]["steps"][2])
    assert scalar == pytest.approx(entropy.mean(), rel=1e-5)
    assert scalar < math.log(100)
    np.testing.assert_allclose(probe_attention(recommender, probes), weights, rtol=1e-5)
    max_weight = tf.make_ndarray(events["attention/mean_max_weight"]["steps"][2])
    assert max_weight == pytest.approx(weights.max(axis=1).mean(), rel=1e-5)
    # the histogram counts every probe weight
    histogram = tf.make_ndarray(events["attention/weights"]["steps"][2])
    assert histogram[:, 2].sum() == pytest.approx(weights.size)
    # an image is a PNG (width, height, encoded bytes)
    width, height, png = tf.make_ndarray(
        events["attention_map/pair_02_user_5_song_6"]["steps"][1]
    ).tolist()
    assert int(width) > int(height) > 100 and png.startswith(b"\x89PNG")
    # the text names the user and the chord with the most attention across their songs
    text = tf.make_ndarray(events["top_chords/user_0"]["steps"][2]).item().decode()
    top = user_chords(weights, probes.chords, probes.users, len(LABELS))[0].top(1)[0]
    assert "u0" in text and f"| 1 | {LABELS[top]} |" in text


def test_every_n_epochs_still_writes_the_first_and_last_step(tmp_path: Path) -> None:
    config = ModelConfig(num_users=4, num_songs=5, num_chords=25, embedding_size=4)
    probes = Probes([1], [2], np.arange(100).reshape(1, 100) % 25)
    recommender = _coat(config)
    callback = AttentionSummary(tmp_path, probes, LABELS, recommender, every_n_epochs=2)
    _tiny_fit(recommender.model, config, callback, epochs=3)
    events = _events(tmp_path / "attention")
    assert sorted(events["attention/mean_entropy"]["steps"]) == [0, 2, 3]


def test_uniform_ablation_has_maximal_entropy(tmp_path: Path) -> None:
    config = ModelConfig(
        num_users=4, num_songs=5, num_chords=25, embedding_size=4, attention_mode="uniform"
    )
    recommender = _coat(config)
    callback = AttentionSummary(tmp_path, Probes([0], [1], np.ones((1, 100))), LABELS, recommender)
    callback.set_model(recommender.model)
    assert callback.write(0)
    callback.close()
    events = _events(tmp_path / "attention")
    value = tf.make_ndarray(events["attention/mean_entropy"]["steps"][0])
    assert value == pytest.approx(math.log(100), rel=1e-6)


def test_neumf_is_skipped_with_one_warning(tmp_path: Path, caplog) -> None:
    config = ModelConfig(num_users=4, num_songs=5, num_chords=25, embedding_size=4)
    neumf = KerasRecommender(build_neumf_model(config), 4, 5)
    probes = Probes([0], [1], np.ones((1, 100)))
    callback = AttentionSummary(tmp_path, probes, LABELS, neumf)
    with caplog.at_level(logging.WARNING, logger="coat_tf.inspection.callback"):
        _tiny_fit(neumf.model, config, callback, epochs=2)
    warnings = [r for r in caplog.records if "no chord attention" in r.getMessage()]
    assert len(warnings) == 1
    assert not (tmp_path / "attention").exists()


def test_callback_checks_its_arguments(tmp_path: Path) -> None:
    config = ModelConfig(num_users=4, num_songs=5, num_chords=25, embedding_size=4)
    recommender = _coat(config)
    probes = Probes([0], [1], np.full((1, 100), 30))
    with pytest.raises(ValueError, match="chord_labels has 25"):
        AttentionSummary(tmp_path, probes, LABELS, recommender)
    with pytest.raises(ValueError, match="every_n_epochs"):
        AttentionSummary(
            tmp_path, Probes([0], [1], np.ones((1, 100))), LABELS, recommender, every_n_epochs=0
        )
    short = Probes([0], [1], np.ones((1, 50)))
    with pytest.raises(ValueError, match="100 chord positions, the probes have 50"):
        probe_attention(recommender, short)
    neumf = KerasRecommender(build_neumf_model(config), 4, 5)
    with pytest.raises(ValueError, match="no chord attention"):
        probe_attention(neumf, Probes([0], [1], np.ones((1, 100))))


def test_the_model_diagram_is_a_png(tmp_path) -> None:
    """``python -m coat_tf.inspection.diagram OUT`` writes a whole PNG and nothing else; an
    output that cannot be written is one line and exit 2."""
    from coat_tf.inspection.diagram import main as diagram_main

    out = tmp_path / "model.png"
    assert diagram_main([str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["model.png"]  # no temporary left
    (tmp_path / "file").write_text("x")
    assert diagram_main([str(tmp_path / "file" / "model.png")]) == 2
