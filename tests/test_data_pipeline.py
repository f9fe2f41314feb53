"""TFRecords and the tf.data training input."""

from __future__ import annotations

import numpy as np
import pytest

from coat_tf.data import PrepareConfig, make_train_dataset, prepare
from coat_tf.data.pipeline import batches_per_pass, epoch_arrays
from coat_tf.data.records import read_records, write_records

T0 = 1388534400


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    rng = np.random.default_rng(5)
    rows = ["user_id\ttrack_id\ttimestamp"]
    for user in range(60):
        for _ in range(int(rng.integers(5, 40))):
            song = int(rng.zipf(1.3)) % 200
            rows.append(f"u{user}\ts{song}\t{T0 + int(rng.integers(0, 10**6))}")
    (folder / "events.tsv").write_text("\n".join(rows) + "\n")
    config = PrepareConfig(top_songs=None, min_user_interactions=3, eval_negatives=10, num_shards=3)
    data = prepare("events", folder / "events.tsv", folder / "out", config, progress=False)
    # Give songs distinct chord rows so a wrong gather would show.
    data.chords = (np.arange(data.num_songs)[:, None] + np.arange(100)[None]) % data.num_chords
    data.chords = data.chords.astype(np.int32)
    return data


def test_records_read_back_equal(tmp_path):
    rng = np.random.default_rng(0)
    chords = rng.integers(0, 25, size=(30, 100)).astype(np.int32)
    users = rng.integers(0, 1000, size=257)
    songs = rng.integers(0, 30, size=257)
    for compression in ("", "GZIP"):
        paths = write_records(tmp_path / compression, users, songs, chords, 4, compression)
        assert [p.name.split(".")[0] for p in paths] == [
            f"train-{i:05d}-of-00004" for i in range(4)
        ]
        got_users, got_songs, got_chords = read_records(paths, 100, compression)
        assert np.array_equal(got_users, users) and np.array_equal(got_songs, songs)
        assert np.array_equal(got_chords, chords[songs])


def test_prepared_records_match_train_table(prepared):
    users, songs, chords = read_records(prepared.record_files, 100, prepared.compression)
    assert np.array_equal(users, prepared.train["user"].to_numpy())
    assert np.array_equal(songs, prepared.train["song"].to_numpy())
    stored = np.load(prepared.path / "chords.npy")
    assert np.array_equal(chords, stored[songs])


def test_train_dataset_contents(prepared):
    k = 3
    dataset = make_train_dataset(prepared, batch_size=64, negatives=k, seed=1, deterministic=True)
    arrays = epoch_arrays(dataset)
    n = len(prepared.train)
    assert len(arrays["label"]) == n * (k + 1)
    keys = set(prepared.train_keys().tolist())
    pair = arrays["user_id"].astype(np.int64) * prepared.num_songs + arrays["song_id"]
    positive = arrays["label"] == 1
    assert positive.sum() == n
    assert all(p in keys for p in pair[positive].tolist())
    assert not any(p in keys for p in pair[~positive].tolist())
    assert sorted(pair[positive].tolist()) == sorted(prepared.train_keys().tolist())
    assert np.array_equal(arrays["chord_ids"], prepared.chords[arrays["song_id"]])
    assert arrays["user_id"].dtype == np.int32 and arrays["chord_ids"].shape[1] == 100
    # Each positive is followed by k negatives of the same user.
    users = arrays["user_id"].reshape(-1, k + 1)
    assert (users == users[:, :1]).all()
    # One pass is exactly the batches training counts as an epoch.
    assert sum(1 for _ in dataset) == batches_per_pass(prepared, 64, k)


def test_deterministic_under_seed_and_fresh_each_epoch(prepared):
    def run(seed):
        dataset = make_train_dataset(
            prepared, 50, negatives=4, seed=seed, deterministic=True, shuffle_buffer=1000
        )
        return epoch_arrays(dataset), epoch_arrays(dataset)

    (a1, a2), (b1, b2) = run(7), run(7)
    for name in ("user_id", "song_id", "label"):
        assert np.array_equal(a1[name], b1[name]) and np.array_equal(a2[name], b2[name])
    assert not np.array_equal(a1["song_id"], a2["song_id"])  # new order and negatives
    c1, _ = run(8)
    assert not np.array_equal(a1["song_id"], c1["song_id"])


def test_bad_arguments(prepared):
    with pytest.raises(ValueError, match="batch_size"):
        make_train_dataset(prepared, 0)
