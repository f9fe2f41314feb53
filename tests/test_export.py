"""Export: the SavedModel loaded in a fresh process gives the in-memory model's outputs."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
import tensorflow as tf

from coat_tf.config import MODEL_ATTENTION_MODES, ModelConfig, RunConfig
from coat_tf.data import PrepareConfig, PreparedDataset, prepare
from coat_tf.export import (
    EXTRA_DIR,
    RECOMMEND,
    SCORE_CHORDS,
    SCORE_MFCC,
    SERVING_DEFAULT,
    ServingModule,
    export_model,
    next_version,
    training_exclusions,
)
from coat_tf.models import (
    MODELS,
    ChordHistogramRecommender,
    ItemKnnRecommender,
    PopularityRecommender,
    RandomRecommender,
    WmfRecommender,
    get_spec,
    song_tables,
)
from coat_tf.models.audio import pool_mfcc
from coat_tf.models.recommender import Recommender
from tests.test_baselines_content import reference_random_scores

REPO = Path(__file__).resolve().parents[1]
NUM_USERS, NUM_SONGS, PER_USER = 8, 40, 12
MFCC_SHAPE = (6, 32)  # coefficients, frames
#: every model of the registry, exported and reloaded
KINDS = list(MODELS)
CHORD_KINDS = list(MODEL_ATTENTION_MODES)  # COAT, its ablations and COAT with song dropout
#: chord models without attention: ``score_chords`` gives scores only
SCORE_ONLY_CHORD_KINDS = ["chord-histogram", "random"]
AUDIO_KINDS = ["neumf-cnn", "neumf-lstm"]


def tiny_data(folder: Path) -> PreparedDataset:
    """8 users x 40 songs from a generic events file, with random chords and MFCCs put in
    memory (the last 4 songs keep the all-N sequence, as songs without audio do)."""
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
    data.mfcc = rng.normal(size=(data.num_songs, *MFCC_SHAPE)).astype(np.float32)
    return data


def model_config(data: PreparedDataset, **kwargs) -> ModelConfig:
    return ModelConfig(
        num_users=data.num_users,
        num_songs=data.num_songs,
        num_chords=data.num_chords,
        embedding_size=8,
        mfcc_coefficients=MFCC_SHAPE[0],
        mfcc_frames=MFCC_SHAPE[1],
        mfcc_pool=4,
        **kwargs,
    )


def trained(data: PreparedDataset, kind: str, **kwargs) -> tuple[Recommender, RunConfig]:
    """Model ``kind`` after one Adam step (WMF: random factors; popularity, item-kNN,
    chord-histogram, random: fitted to the training pairs), and its run config."""
    tf.keras.utils.set_random_seed(0)
    config = model_config(data, **kwargs)
    run = RunConfig(model=config, model_name=kind, data_dir=str(data.path))
    if kind == "wmf":
        rng = np.random.default_rng(4)
        factors = rng.normal(size=(data.num_users, 8)), rng.normal(size=(data.num_songs, 8))
        return WmfRecommender(*factors), run
    spec = get_spec(kind)
    if spec.fitted is not None:
        users, songs = data.train["user"].to_numpy(), data.train["song"].to_numpy()
        tables = song_tables(spec, data, config)
        return spec.fitted.fit(users, songs, config, seed=5, song_tables=tables), run
    model = spec.build(config)
    recommender = spec.wrap(model, config, song_tables(spec, data, config))
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    users = data.train["user"].to_numpy(np.int32)
    songs = data.train["song"].to_numpy(np.int32)
    negatives = np.random.default_rng(1).integers(0, data.num_songs, len(songs)).astype(np.int32)
    features = recommender.features(
        np.concatenate([users, users]), np.concatenate([songs, negatives])
    )
    labels = np.concatenate([np.ones(len(users)), np.zeros(len(users))]).astype(np.float32)
    model.train_on_batch(features, labels)
    return recommender, run


def direct_scores(recommender: Recommender, data: PreparedDataset, users, songs) -> np.ndarray:
    """Scores of aligned pairs computed without the scoring interface: the Keras model on
    inputs gathered here (WMF: the factors' dot products in numpy; popularity: the training
    counts; item-kNN: ``R S`` in scipy; chord-histogram: cosines in numpy; random: the hash in
    numpy)."""
    users, songs = np.asarray(users, np.int32), np.asarray(songs, np.int32)
    if isinstance(recommender, WmfRecommender):
        x, y = recommender.user_factors.numpy(), recommender.song_factors.numpy()
        return np.sum(x[users] * y[songs], axis=1)
    if isinstance(recommender, PopularityRecommender):
        return np.bincount(data.train["song"], minlength=data.num_songs)[songs].astype(float)
    if isinstance(recommender, ChordHistogramRecommender):
        return histogram_cosines(data, users, data.chords[songs])
    if isinstance(recommender, RandomRecommender):
        return reference_random_scores(recommender.seed, users, songs)
    if isinstance(recommender, ItemKnnRecommender):
        import scipy.sparse as sp

        state = recommender.arrays()
        splits, shape = state["similarity_splits"], (data.num_songs, data.num_songs)
        similarity = sp.csr_matrix(
            (state["similarity_values"], state["similarity_songs"], splits), shape=shape
        )
        train = sp.csr_matrix(
            (np.ones(len(data.train)), (data.train["user"], data.train["song"])),
            shape=(data.num_users, data.num_songs),
        )
        return np.asarray((train @ similarity).todense())[users, songs]
    model = recommender.model
    features = {"user_id": users, "song_id": songs}
    if "chord_ids" in model.input_names:
        features["chord_ids"] = data.chords[songs]
    if "mfcc" in model.input_names:
        features["mfcc"] = pool_mfcc(data.mfcc[songs], 4)
    return model(features, training=False).numpy()


def histogram_cosines(data: PreparedDataset, users, chord_ids) -> np.ndarray:  # noqa: ANN001
    """Chord-histogram's scores in numpy: the cosine of each user's mean training histogram
    (chord-id counts, N left out, L1-normalised) and the histogram of ``chord_ids``."""

    def histograms(rows: np.ndarray) -> np.ndarray:
        counts = np.stack([np.bincount(r, minlength=data.num_chords) for r in rows]).astype(float)
        counts[:, 0] = 0
        total = counts.sum(axis=1, keepdims=True)
        return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)

    songs = histograms(np.asarray(data.chords))
    profiles = np.zeros((data.num_users, data.num_chords))
    for user, items in enumerate(data.train_items_by_user()):
        profiles[user] = songs[np.unique(items)].mean(axis=0) if len(items) else 0
    users = np.asarray(users)
    chords = histograms(np.asarray(chord_ids))
    dot = np.sum(profiles[users] * chords, axis=1)
    norms = np.linalg.norm(profiles[users], axis=1) * np.linalg.norm(chords, axis=1)
    return np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 0)


def _mean_song_copy(model: tf.keras.Model) -> tf.keras.Model:
    """A copy of ``model`` whose song tables hold their mean in every row: its score of any
    song id is the score of a song that is not in the catalogue."""
    copy = tf.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    tables = [copy.get_layer("gmf").song_embeddings]
    if "mlp_song_embedding" in [layer.name for layer in copy.layers]:
        tables.append(copy.get_layer("mlp_song_embedding").embeddings)
    for table in tables:
        table.assign(tf.repeat(tf.reduce_mean(table, 0, keepdims=True), table.shape[0], 0))
    return copy


def references(recommender: Recommender, data: PreparedDataset) -> dict[str, np.ndarray]:
    """What the export must reproduce, computed with the in-memory model only."""
    rng = np.random.default_rng(3)
    users = rng.integers(0, data.num_users, 32).astype(np.int32)
    songs = rng.integers(0, data.num_songs, 32).astype(np.int32)
    chord_ids = rng.integers(0, data.num_chords, (32, data.chords.shape[1])).astype(np.int32)
    mfcc = rng.normal(size=(32, *MFCC_SHAPE)).astype(np.float32)
    out = {"users": users, "songs": songs, "chord_ids": chord_ids, "mfcc": mfcc}
    if isinstance(recommender, ChordHistogramRecommender):
        out["score_chords"] = histogram_cosines(data, users, chord_ids)
    elif isinstance(recommender, RandomRecommender):
        out["score_chords"] = recommender.score_new_songs(users, chord_ids).numpy()
    elif recommender.content_input == "chord_ids":
        model = recommender.model
        attention = tf.keras.Model(model.input, model.get_layer("chord_attention").output[1])
        features = {"user_id": users, "song_id": songs, "chord_ids": chord_ids}
        out["attention"] = attention(features, training=False).numpy()
        out["score_chords"] = _mean_song_copy(model)(features, training=False).numpy()
    if recommender.content_input == "mfcc":
        features = {"user_id": users, "song_id": songs, "mfcc": pool_mfcc(mfcc, 4)}
        out["score_mfcc"] = _mean_song_copy(recommender.model)(features, training=False).numpy()
    out["score"] = direct_scores(recommender, data, users, songs)
    all_users = np.repeat(np.arange(data.num_users), data.num_songs)
    all_songs = np.tile(np.arange(data.num_songs), data.num_users)
    scores = direct_scores(recommender, data, all_users, all_songs)
    out["all_scores"] = scores.reshape(data.num_users, data.num_songs)
    return out


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("export")
    data = tiny_data(folder)
    found = {}
    for kind in KINDS:
        recommender, run = trained(data, kind)
        path = export_model(recommender, data, run, out_root=folder / "saved_models")
        found[kind] = {"path": path, "model": recommender, "ref": references(recommender, data)}
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
            if "attention" in chords:
                out[tag + "/attention"] = chords["attention"].numpy()
        if "score_mfcc" in sig:
            mfcc = sig["score_mfcc"](user_id=users, mfcc=tf.constant(inputs[tag + "/mfcc"]))
            out[tag + "/score_mfcc"] = mfcc["score"].numpy()
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
    for kind in KINDS:
        ref = exports[kind]["ref"]
        for key in ("users", "songs", "chord_ids", "mfcc"):
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


@pytest.mark.parametrize("kind", KINDS)
def test_fresh_process_scores_equal_the_in_memory_model(exports, loaded, kind) -> None:
    ref = exports[kind]["ref"]
    np.testing.assert_allclose(loaded[f"{kind}/score"], ref["score"], atol=1e-5)
    expected = {SERVING_DEFAULT, RECOMMEND}
    if kind in CHORD_KINDS + SCORE_ONLY_CHORD_KINDS:
        expected.add(SCORE_CHORDS)
    if kind in AUDIO_KINDS:
        expected.add(SCORE_MFCC)
    assert set(loaded[f"{kind}/signatures"]) == expected


@pytest.mark.parametrize("kind", CHORD_KINDS)
def test_score_chords_equals_the_in_memory_model(exports, loaded, kind) -> None:
    ref = exports[kind]["ref"]
    np.testing.assert_allclose(loaded[f"{kind}/attention"], ref["attention"], atol=1e-5)
    total = 100.0 if kind == "coat-ones" else 1.0
    np.testing.assert_allclose(loaded[f"{kind}/attention"].sum(axis=1), total, rtol=1e-5)
    np.testing.assert_allclose(loaded[f"{kind}/score_chords"], ref["score_chords"], atol=1e-5)
    if kind == "coat":
        # Different chords give different weights: the signature really uses its input.
        assert loaded[f"{kind}/attention"].std(axis=1).max() > 1e-4


@pytest.mark.parametrize("kind", SCORE_ONLY_CHORD_KINDS)
def test_score_chords_of_a_model_without_attention(exports, loaded, kind) -> None:
    """Chord-histogram and random score new chords (no attention output); chord-histogram's
    are its catalogue scores for the same chords, and its export keeps the chord table."""
    scores = loaded[f"{kind}/score_chords"]
    np.testing.assert_allclose(scores, exports[kind]["ref"]["score_chords"], atol=1e-5)
    assert scores.std() > 0 and f"{kind}/attention" not in loaded
    module = ServingModule(exports[kind]["model"], training_exclusions(exports["data"]))
    assert hasattr(module, "song_chords") == (kind == "chord-histogram")


@pytest.mark.parametrize("kind", AUDIO_KINDS)
def test_score_mfcc_equals_the_in_memory_model(exports, loaded, kind) -> None:
    scores = loaded[f"{kind}/score_mfcc"]
    np.testing.assert_allclose(scores, exports[kind]["ref"]["score_mfcc"], atol=1e-5)
    assert scores.std() > 0


@pytest.mark.parametrize("kind", KINDS)
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
    recommender, _ = trained(data, "coat", attention_user_embedding="separate")
    module = ServingModule(recommender, training_exclusions(data))
    ref = references(recommender, data)
    out = module.score_chords(tf.constant(ref["users"]), tf.constant(ref["chord_ids"]))
    np.testing.assert_allclose(out["attention"].numpy(), ref["attention"], atol=1e-5)
    np.testing.assert_allclose(out["score"].numpy(), ref["score_chords"], atol=1e-5)


def test_export_layout_and_files(exports) -> None:
    path = exports["coat"]["path"]
    data = exports["data"]
    assert path == exports["root"] / "coat" / "1"
    assert exports["coat-uniform"]["path"] == exports["root"] / "coat_uniform" / "1"
    assert exports["neumf-cnn"]["path"] == exports["root"] / "neumf_cnn" / "1"
    assert exports["wmf"]["path"] == exports["root"] / "wmf" / "1"
    assert (path / "saved_model.pb").is_file() and (path / "variables").is_dir()
    extra = path / EXTRA_DIR
    for name in ("config.json", "users.tsv", "songs.tsv", "chord_vocabulary.txt"):
        assert (extra / name).is_file(), name
    info = json.loads((extra / "export.json").read_text())
    assert info["excluded_pairs"] == len(data.train)
    assert (info["model_name"], info["score"]) == ("coat", "probability")
    wmf_info = json.loads((exports["wmf"]["path"] / EXTRA_DIR / "export.json").read_text())
    assert (wmf_info["model_name"], wmf_info["score"]) == ("wmf", "preference")
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
    model = exports["coat"]["model"]
    run = RunConfig(model=model_config(data))
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


def test_bad_arguments_are_refused_before_writing(exports, tmp_path) -> None:
    data = exports["data"]
    model = exports["coat"]["model"]
    good = model_config(data)
    wrong = RunConfig(model=dataclasses.replace(good, num_songs=data.num_songs + 1))
    with pytest.raises(ValueError, match="num_songs"):
        export_model(model, data, wrong, out_root=tmp_path)
    run = RunConfig(model=good)
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


def test_a_version_taken_during_the_export_is_left_alone(exports, tmp_path) -> None:
    """Another training publishes version 1 while this export is being built: this one
    becomes version 2, says so in export.json, and both load."""
    from coat_tf.recommend import ExportedModel

    data = exports["data"]
    model = exports["coat"]["model"]
    run = RunConfig(model=model_config(data))
    first = export_model(model, data, run, out_root=tmp_path / "a")
    real_save = tf.saved_model.save

    def save_while_another_publishes(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
        real_save(*args, **kwargs)
        shutil.copytree(first, tmp_path / "saved" / "coat" / "1")

    with patch.object(tf.saved_model, "save", save_while_another_publishes):
        path = export_model(model, data, run, out_root=tmp_path / "saved")
    assert path == tmp_path / "saved" / "coat" / "2"
    info = json.loads((path / EXTRA_DIR / "export.json").read_text())
    assert info["version"] == 2
    assert ExportedModel(path).recommend(data.user_ids[0], k=3)
    assert ExportedModel(tmp_path / "saved" / "coat" / "1").recommend(data.user_ids[0], k=3)
    assert sorted(p.name for p in (tmp_path / "saved" / "coat").iterdir()) == ["1", "2"]


@pytest.mark.parametrize("kind", CHORD_KINDS)
def test_every_coat_variant_records_its_attention_mode(exports, kind) -> None:
    extra = exports[kind]["path"] / EXTRA_DIR
    mode = MODEL_ATTENTION_MODES[kind]
    assert json.loads((extra / "export.json").read_text())["attention_mode"] == mode
    assert json.loads((extra / "config.json").read_text())["model"]["attention_mode"] == mode
    if mode != "learned":  # a config that calls the ablation learned does not describe it
        wrong = RunConfig(model=model_config(exports["data"]), model_name="gmf")
        with pytest.raises(ValueError, match=f"attention_mode is 'learned'.*'{mode}'"):
            export_model(exports[kind]["model"], exports["data"], wrong, out_root=exports["root"])
    info = json.loads((exports["gmf"]["path"] / EXTRA_DIR / "export.json").read_text())
    assert info["attention_mode"] is None


def test_exported_coat_never_needs_the_fused_op(exports) -> None:
    """The in-memory COAT runs the fused op where it is built; its export holds the split
    graph (the fresh process of ``loaded`` never loads the op's library)."""
    from coat_tf.layers import fused

    layer = exports["coat"]["model"].model.get_layer("chord_attention")
    assert layer.implementation == "auto"
    assert layer.uses_fused_op() == (
        fused.available() and not tf.config.list_logical_devices("GPU")
    )
    graph = (exports["coat"]["path"] / "saved_model.pb").read_bytes()
    assert b"CoatChordScores" not in graph
