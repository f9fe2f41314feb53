"""Export: the SavedModel loaded in a fresh process gives the in-memory model's outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from coat_tf.config import ModelConfig, RunConfig
from coat_tf.data import PrepareConfig, PreparedDataset, prepare
from coat_tf.export import (
    EXTRA_DIR,
    RECOMMEND,
    SCORE_CHORDS,
    SERVING_DEFAULT,
    ServingModule,
    export_model,
    next_version,
    training_exclusions,
)
from coat_tf.models import attention_model, build_coat_model, build_neumf_model

REPO = Path(__file__).resolve().parents[1]
NUM_USERS, NUM_SONGS, PER_USER = 8, 40, 12


def tiny_data(folder: Path) -> PreparedDataset:
    """8 users x 40 songs from a generic events file, with random chords put in memory
    (the last 4 songs keep the all-N sequence, as songs without audio do)."""
    rng = np.random.default_rng(7)
    lines = ["user_id\ttrack_id\ttimestamp"]
    for user in range(NUM_USERS):
        for song in rng.choice(NUM_SONGS, PER_USER, replace=False):
            lines.append(f"u{user}\ts{song}\t{1_600_000_000 + int(rng.integers(0, 10**6))}")
    events = folder / "events.tsv"
    events.write_text("\n".join(lines) + "\n")
    config = PrepareConfig(
        since=None, top_songs=None, min_user_interactions=3, eval_negatives=5, num_shards=1
    )
    data = prepare("events", events, folder / "prepared", config, progress=False)
    chords = rng.integers(1, data.num_chords, data.chords.shape).astype(np.int32)
    chords[-4:] = 0
    data.chords = chords
    data.songs["has_chords"] = [1] * (data.num_songs - 4) + [0] * 4
    return data


def trained_model(data: PreparedDataset, kind: str) -> tuple[tf.keras.Model, RunConfig]:
    """A small model of ``kind`` (``learned``, ``uniform`` or ``neumf``) after one Adam step."""
    tf.keras.utils.set_random_seed(0)
    config = ModelConfig(
        num_users=data.num_users,
        num_songs=data.num_songs,
        num_chords=data.num_chords,
        embedding_size=8,
        attention_mode="uniform" if kind == "uniform" else "learned",
    )
    model = build_neumf_model(config) if kind == "neumf" else build_coat_model(config)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    users = data.train["user"].to_numpy(np.int32)
    songs = data.train["song"].to_numpy(np.int32)
    negatives = np.random.default_rng(1).integers(0, data.num_songs, len(songs)).astype(np.int32)
    batch = {
        "user_id": np.concatenate([users, users]),
        "song_id": np.concatenate([songs, negatives]),
    }
    if kind != "neumf":
        batch["chord_ids"] = data.chords[batch["song_id"]]
    labels = np.concatenate([np.ones(len(users)), np.zeros(len(users))]).astype(np.float32)
    model.train_on_batch(batch, labels)
    run = RunConfig(model=config, model_name=model.name, data_dir=str(data.path))
    return model, run


def all_scores(model: tf.keras.Model, data: PreparedDataset) -> np.ndarray:
    """``[num_users, num_songs]`` probabilities, pair by pair through the Keras model."""
    users = np.repeat(np.arange(data.num_users, dtype=np.int32), data.num_songs)
    songs = np.tile(np.arange(data.num_songs, dtype=np.int32), data.num_users)
    features = {"user_id": users, "song_id": songs}
    if "chord_ids" in model.input_names:
        features["chord_ids"] = data.chords[songs]
    return model(features, training=False).numpy().reshape(data.num_users, data.num_songs)


def references(model: tf.keras.Model, data: PreparedDataset) -> dict[str, np.ndarray]:
    """What the export must reproduce, computed with the in-memory Keras model only."""
    rng = np.random.default_rng(3)
    users = rng.integers(0, data.num_users, 32).astype(np.int32)
    songs = rng.integers(0, data.num_songs, 32).astype(np.int32)
    chord_ids = rng.integers(0, data.num_chords, (32, data.chords.shape[1])).astype(np.int32)
    out = {"users": users, "songs": songs, "chord_ids": chord_ids}
    features = {"user_id": users, "song_id": songs}
    if "chord_ids" in model.input_names:
        features["chord_ids"] = data.chords[songs]
        out["attention"] = attention_model(model)(
            {**features, "chord_ids": chord_ids}, training=False
        ).numpy()
        # score_chords scores a new song with the mean song embedding: a copy of the model
        # whose song table holds that mean in every row gives the same score for any song id.
        copy = tf.keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        table = copy.get_layer("gmf").song_embeddings
        table.assign(tf.repeat(tf.reduce_mean(table, 0, keepdims=True), data.num_songs, 0))
        out["score_chords"] = copy({**features, "chord_ids": chord_ids}, training=False).numpy()
    out["score"] = model(features, training=False).numpy()
    out["all_scores"] = all_scores(model, data)
    return out


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("export")
    data = tiny_data(folder)
    found = {}
    for kind in ("learned", "uniform", "neumf"):
        model, run = trained_model(data, kind)
        path = export_model(model, data, run, out_root=folder / "saved_models")
        found[kind] = {"path": path, "model": model, "ref": references(model, data)}
    return {"data": data, "root": folder / "saved_models", **found}


LOAD_SCRIPT = textwrap.dedent(
    """
    import sys
    import coat_tf  # legacy Keras before TensorFlow
    import numpy as np
    import tensorflow as tf

    inputs = np.load(sys.argv[1])
    out = {}
    for tag, path in zip(sys.argv[3::2], sys.argv[4::2]):
        loaded = tf.saved_model.load(path)
        sig = loaded.signatures
        out[tag + "/signatures"] = np.array(sorted(sig))
        users = tf.constant(inputs[tag + "/users"])
        score = sig["serving_default"](user_id=users, song_id=tf.constant(inputs[tag + "/songs"]))
        out[tag + "/score"] = score["score"].numpy()
        all_users = tf.range(int(inputs["num_users"]), dtype=tf.int32)
        top = sig["recommend"](user_id=all_users, k=tf.constant(int(inputs["num_songs"])))
        out[tag + "/song_ids"] = top["song_ids"].numpy()
        out[tag + "/scores"] = top["scores"].numpy()
        top5 = sig["recommend"](user_id=all_users, k=tf.constant(5))
        out[tag + "/song_ids5"] = top5["song_ids"].numpy()
        if "score_chords" in sig:
            chords = sig["score_chords"](
                user_id=users, chord_ids=tf.constant(inputs[tag + "/chord_ids"])
            )
            out[tag + "/score_chords"] = chords["score"].numpy()
            out[tag + "/attention"] = chords["attention"].numpy()
    np.savez(sys.argv[2], **out)
    """
)


@pytest.fixture(scope="module")
def loaded(exports, tmp_path_factory) -> dict[str, np.ndarray]:
    """Outputs of every export loaded with ``tf.saved_model.load`` in a fresh process."""
    folder = tmp_path_factory.mktemp("fresh")
    data = exports["data"]
    inputs = {"num_users": data.num_users, "num_songs": data.num_songs}
    args = []
    for kind in ("learned", "uniform", "neumf"):
        ref = exports[kind]["ref"]
        for key in ("users", "songs", "chord_ids"):
            inputs[f"{kind}/{key}"] = ref[key]
        args += [kind, str(exports[kind]["path"])]
    np.savez(folder / "inputs.npz", **inputs)
    script = folder / "load.py"
    script.write_text(LOAD_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, str(script), str(folder / "inputs.npz"), str(folder / "out.npz"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(folder / "out.npz") as out:
        return dict(out)


@pytest.mark.parametrize("kind", ["learned", "uniform", "neumf"])
def test_fresh_process_scores_equal_the_in_memory_model(exports, loaded, kind) -> None:
    ref = exports[kind]["ref"]
    np.testing.assert_allclose(loaded[f"{kind}/score"], ref["score"], atol=1e-5)
    expected = {SERVING_DEFAULT, RECOMMEND} | ({SCORE_CHORDS} if kind != "neumf" else set())
    assert set(loaded[f"{kind}/signatures"]) == expected


@pytest.mark.parametrize("kind", ["learned", "uniform"])
def test_score_chords_equals_the_in_memory_model(exports, loaded, kind) -> None:
    ref = exports[kind]["ref"]
    np.testing.assert_allclose(loaded[f"{kind}/attention"], ref["attention"], atol=1e-5)
    np.testing.assert_allclose(loaded[f"{kind}/attention"].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(loaded[f"{kind}/score_chords"], ref["score_chords"], atol=1e-5)
    if kind == "learned":
        # Different chords give different weights: the signature really uses its input.
        assert loaded[f"{kind}/attention"].std(axis=1).max() > 1e-4


@pytest.mark.parametrize("kind", ["learned", "uniform", "neumf"])
def test_recommend_ranks_the_catalogue_without_training_songs(exports, loaded, kind) -> None:
    data = exports["data"]
    reference = exports[kind]["ref"]["all_scores"]
    song_ids, scores = loaded[f"{kind}/song_ids"], loaded[f"{kind}/scores"]
    assert song_ids.shape == scores.shape == (data.num_users, data.num_songs)
    for user, seen in enumerate(data.train_items_by_user()):
        found = song_ids[user][song_ids[user] >= 0]
        assert len(found) == data.num_songs - len(seen)
        assert not set(found) & set(seen.tolist())
        assert np.all(song_ids[user][len(found) :] == -1)
        assert np.all(scores[user][len(found) :] == 0)
        assert np.all(np.diff(scores[user][: len(found)]) <= 0)
        np.testing.assert_allclose(scores[user][: len(found)], reference[user, found], atol=1e-5)
        expected = np.sort(np.delete(reference[user], seen))[::-1]
        np.testing.assert_allclose(scores[user][: len(found)], expected, atol=1e-5)
        np.testing.assert_array_equal(loaded[f"{kind}/song_ids5"][user], song_ids[user][:5])


def test_score_chords_with_a_separate_attention_user_embedding(exports) -> None:
    data = exports["data"]
    config = ModelConfig(**exports_config(data), attention_user_embedding="separate")
    model = build_coat_model(config)
    module = ServingModule(model, data.chords, training_exclusions(data))
    ref = references(model, data)
    out = module.score_chords(tf.constant(ref["users"]), tf.constant(ref["chord_ids"]))
    np.testing.assert_allclose(out["attention"].numpy(), ref["attention"], atol=1e-5)
    np.testing.assert_allclose(out["score"].numpy(), ref["score_chords"], atol=1e-5)


def test_export_layout_and_files(exports) -> None:
    path = exports["learned"]["path"]
    data = exports["data"]
    assert path == exports["root"] / "coat" / "1"
    assert exports["uniform"]["path"] == exports["root"] / "coat_uniform" / "1"
    assert (path / "saved_model.pb").is_file() and (path / "variables").is_dir()
    extra = path / EXTRA_DIR
    for name in ("config.json", "users.tsv", "songs.tsv", "chord_vocabulary.txt"):
        assert (extra / name).is_file(), name
    info = json.loads((extra / "export.json").read_text())
    assert info["excluded_pairs"] == len(data.train)
    assert info["data_content_hash"] == data.manifest["content_hash"]
    manifest = json.loads((extra / "manifest.json").read_text())
    assert manifest["content_hash"] == data.manifest["content_hash"]
    assert json.loads((extra / "config.json").read_text())["model"]["num_songs"] == data.num_songs
    users = (extra / "users.tsv").read_text().splitlines()
    assert users[0] == "index\tid" and users[1:] == [
        f"{i}\t{u}" for i, u in enumerate(data.user_ids)
    ]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (extra / "users.tsv").stat().st_mode & 0o777 == 0o666 & ~umask


def test_versions_count_up_and_never_overwrite(exports) -> None:
    data = exports["data"]
    root = exports["root"]
    model = exports["learned"]["model"]
    run = RunConfig(model=ModelConfig(**exports_config(data)))
    assert next_version(root / "coat") == 2
    assert next_version(root / "missing") == 1
    (root / "coat" / "7").mkdir()
    (root / "coat" / "notes").mkdir()
    assert next_version(root / "coat") == 8
    (root / "coat" / "7").rmdir()
    with pytest.raises(FileExistsError, match="1"):
        export_model(model, data, run, out_root=root, version=1)
    second = export_model(model, data, run, out_root=root)
    assert second == root / "coat" / "2" and (second / "saved_model.pb").is_file()


def exports_config(data: PreparedDataset) -> dict:
    return {
        "num_users": data.num_users,
        "num_songs": data.num_songs,
        "num_chords": data.num_chords,
        "embedding_size": 8,
    }


def test_bad_arguments_are_refused_before_writing(exports, tmp_path) -> None:
    data = exports["data"]
    model = exports["learned"]["model"]
    good = exports_config(data)
    wrong = RunConfig(model=ModelConfig(**{**good, "num_songs": data.num_songs + 1}))
    with pytest.raises(ValueError, match="num_songs"):
        export_model(model, data, wrong, out_root=tmp_path)
    run = RunConfig(model=ModelConfig(**good))
    with pytest.raises(ValueError, match="name"):
        export_model(model, data, run, out_root=tmp_path, name="../escape")
    with pytest.raises(ValueError, match="version"):
        export_model(model, data, run, out_root=tmp_path, version=0)
    with pytest.raises(ValueError, match="exclude"):
        export_model(model, data, run, out_root=tmp_path, exclude="some")
    assert not any(tmp_path.iterdir())


def test_exclusions_can_cover_held_out_songs(exports) -> None:
    data = exports["data"]
    train = training_exclusions(data, "train")
    everything = training_exclusions(data, "all")
    for user, songs in enumerate(train):
        assert set(songs) <= set(everything[user])
    for split in (data.valid, data.test):
        for user, song in zip(split.users, split.positives, strict=True):
            assert song in everything[user] and song not in train[user]
