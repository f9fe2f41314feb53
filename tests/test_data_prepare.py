"""The paper's filtering on a hand-made LFM-1b fixture (answers in fixtures/lfm1b/README.txt),
leave-one-out splits, evaluation candidates, the prepared folder and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coat_tf.data import PrepareConfig, PreparedDataset, prepare
from coat_tf.data.__main__ import main
from coat_tf.data.errors import DataError, ErrorLog
from coat_tf.data.filtering import filter_min_user_interactions, interaction_stats
from coat_tf.data.interactions import aggregate, select_top
from coat_tf.data.manifest import rebuild_command
from coat_tf.data.readers import Lfm1bSource
from coat_tf.data.splits import leave_one_out, sample_candidates

FIXTURES = Path(__file__).parent / "fixtures"
T0 = 1388534400
SMALL = PrepareConfig(top_songs=4, min_user_interactions=3, eval_negatives=1, num_shards=2)


def _key(frame: pd.DataFrame) -> list[tuple]:
    return sorted(map(tuple, frame[["user", "song", "play_count"]].values.tolist()))


def test_filter_steps_on_fixture():
    result = aggregate(Lfm1bSource(FIXTURES / "lfm1b"), ErrorLog(), T0, 4)
    assert result.stats.events == 22
    assert result.stats.events_since == 16
    assert result.stats.tracks_since == 6
    inter = result.interactions
    assert interaction_stats(inter) == {
        "users": 5,
        "songs": 4,
        "interactions": 11,
        "plays": 13,
        "sparsity": 0.45,
    }
    row = inter[(inter["user"] == "1") & (inter["song"] == "101")].iloc[0]
    assert (row["play_count"], row["first_timestamp"], row["last_timestamp"]) == (
        3,
        T0 + 10,
        T0 + 500,
    )
    assert result.track_names["104"] == "Artist Y - Song D"
    kept = filter_min_user_interactions(inter, 3)
    assert interaction_stats(kept) == {
        "users": 2,
        "songs": 4,
        "interactions": 6,
        "plays": 8,
        "sparsity": 0.25,
    }


def test_without_date_step_old_plays_count():
    result = aggregate(Lfm1bSource(FIXTURES / "lfm1b"), ErrorLog(), None, 2)
    # 106: 6 plays, 101: 5 plays.
    assert sorted(result.interactions["song"].unique()) == ["101", "106"]


def test_single_pass_equals_two_pass():
    one = aggregate(Lfm1bSource(FIXTURES / "lfm1b"), ErrorLog(), T0, None).interactions
    two = aggregate(Lfm1bSource(FIXTURES / "lfm1b"), ErrorLog(), T0, 100).interactions
    assert _key(one) == _key(two) and len(one) == 14


def test_select_top_ties_by_id():
    counts = np.array([2, 5, 2, 0, 2])
    assert select_top(counts, ["b", "z", "a", "c", "c2"], 3).tolist() == [1, 2, 0]
    assert select_top(counts, [10, 2, 3, 1, 0], 2).tolist() == [1, 4]
    assert select_top(counts, list("abcde"), None).tolist() == [1, 0, 2, 4]


def test_leave_one_out_rule():
    inter = pd.DataFrame(
        {
            "user": [0, 0, 0, 0, 1, 1, 1],
            "song": [5, 1, 2, 3, 7, 6, 8],
            "play_count": 1,
            "first_timestamp": [1, 1, 5, 1, 9, 9, 9],
            "last_timestamp": [9, 3, 9, 4, 9, 9, 9],
        }
    )
    train, valid, test = leave_one_out(inter)
    # user 0: songs 5 and 2 end at 9; 2 started later -> test 2, valid 5.
    assert test.set_index("user")["song"].to_dict() == {0: 2, 1: 8}
    assert valid.set_index("user")["song"].to_dict() == {0: 5, 1: 7}
    assert sorted(train["song"]) == [1, 3, 6]


def test_candidates_never_positives():
    rng = np.random.default_rng(0)
    interacted = [np.unique(rng.integers(0, 300, size=rng.integers(3, 150))) for _ in range(50)]
    users = np.arange(50)
    positives = np.array([items[-1] for items in interacted])
    cands = sample_candidates(users, positives, interacted, 300, negatives=99, seed=[7, 1])
    assert cands.items.shape == (50, 100)
    for user, row in zip(users, cands.items, strict=True):
        assert row[0] == positives[user]
        assert len(set(row[1:])) == 99
        assert not set(row[1:]) & set(interacted[user].tolist())
        assert row.max() < 300
    again = sample_candidates(users, positives, interacted, 300, negatives=99, seed=[7, 1])
    assert np.array_equal(cands.items, again.items)


def test_prepare_fixture_end_to_end(tmp_path):
    data = prepare("lfm1b", FIXTURES / "lfm1b", tmp_path / "out", SMALL, progress=False)
    assert data.song_ids == ["101", "102", "103", "104"] and data.user_ids == ["1", "4"]
    assert data.test.items.tolist() == [[0, 3], [3, 0]]
    assert data.valid.items.tolist() == [[2, 3], [2, 0]]
    assert data.train[["user", "song"]].values.tolist() == [[0, 1], [1, 1]]
    assert data.chords.shape == (4, 100) and not data.chords.any()
    assert data.songs["has_chords"].tolist() == [0, 0, 0, 0]
    assert data.songs["name"][0] == "Artist X - Song A"
    counts = data.manifest["counts"]
    assert (counts["users"], counts["songs"], counts["interactions"]) == (2, 4, 6)
    assert counts["sparsity"] == 0.25 and counts["train"] == 2
    assert data.manifest["steps"]["since"] == {"events": 16, "songs": 6}
    assert data.manifest["settings"]["top_songs"] == 4
    from coat_tf.data.dataset import content_hash

    assert data.manifest["content_hash"] == content_hash(data.path)


def test_test_item_is_latest_and_not_in_train(tmp_path):
    rng = np.random.default_rng(3)
    rows = [
        f"u{u}\tt{rng.integers(0, 150)}\t{T0 + int(rng.integers(0, 10_000))}"
        for u in range(40)
        for _ in range(30)
    ]
    events = tmp_path / "events.tsv"
    events.write_text("user_id\ttrack_id\ttimestamp\n" + "\n".join(rows) + "\n")
    config = PrepareConfig(top_songs=120, min_user_interactions=5, eval_negatives=20)
    data = prepare("events", events, tmp_path / "out", config, progress=False)
    raw = pd.read_csv(events, sep="\t")
    raw = raw[raw["track_id"].isin(data.song_ids)]
    last = raw.groupby(["user_id", "track_id"])["timestamp"].max().reset_index()
    latest = last.groupby("user_id")["timestamp"].max()
    train_by_user = data.train_items_by_user()
    for user, row in zip(data.test.users, data.test.items, strict=True):
        uid, song = data.user_ids[user], data.song_ids[row[0]]
        heard = last[(last["user_id"] == uid) & (last["track_id"] == song)]["timestamp"].item()
        assert heard == latest[uid]
        assert row[0] not in train_by_user[user]
        assert data.valid.items[user, 0] not in train_by_user[user]
        assert not set(row[1:]) & set(
            last[last["user_id"] == uid]["track_id"]
            .map({s: i for i, s in enumerate(data.song_ids)})
            .dropna()
            .astype(int)
        )


def test_movielens_fixture_split(tmp_path):
    config = PrepareConfig.for_source("movielens", eval_negatives=2, min_user_interactions=4)
    data = prepare("movielens", FIXTURES / "movielens", tmp_path / "ml", config, progress=False)
    # user 4 has 3 interactions (fewer than 4); the others keep their test movie, and one
    # training movie each becomes the validation item.
    assert data.user_ids == ["1", "2", "3"]
    expected_test = {"1": "14", "2": "12", "3": "11"}
    for user, row in zip(data.test.users, data.test.items, strict=True):
        assert data.song_ids[row[0]] == expected_test[data.user_ids[user]]
    train = data.train_items_by_user()
    for user, row in zip(data.valid.users, data.valid.items, strict=True):
        assert row[0] not in train[user]
    assert data.manifest["counts"]["train"] == len(data.train) == 3 + 2 + 3
    assert data.manifest["settings"]["since"] is None


@pytest.mark.parametrize("source", ["movielens", "events"])
def test_validation_in_train_keeps_the_validation_items_in_training(tmp_path, source) -> None:
    """NCF's code trains on everything but the test item: the variant puts each user's
    validation item back into training, and nothing else changes."""
    if source == "movielens":
        where = FIXTURES / "movielens"
        settings = {"eval_negatives": 2, "min_user_interactions": 4}
    else:
        rng = np.random.default_rng(5)
        rows = [
            f"u{u}\tt{rng.integers(0, 60)}\t{T0 + u * 100 + i}" for u in range(8) for i in range(12)
        ]
        where = tmp_path / "events.tsv"
        where.write_text("user_id\ttrack_id\ttimestamp\n" + "\n".join(rows) + "\n")
        settings = {"since": None, "eval_negatives": 5, "min_user_interactions": 5}
    held_out = prepare(
        source, where, tmp_path / "held", PrepareConfig.for_source(source, **settings), False
    )
    config = PrepareConfig.for_source(source, validation_in_train=True, **settings)
    kept = prepare(source, where, tmp_path / "kept", config, progress=False)
    assert kept.validation_in_train and not held_out.validation_in_train
    assert "--validation-in-train" in rebuild_command(kept.path, kept.manifest)
    assert "--validation-in-train" not in rebuild_command(held_out.path, held_out.manifest)
    assert len(kept.train) == len(held_out.train) + len(kept.valid.users)
    assert kept.manifest["counts"]["train"] == len(kept.train)
    train = kept.train_items_by_user()
    for split in ("valid", "test"):  # the same held-out items and candidates
        a, b = getattr(kept, split), getattr(held_out, split)
        assert np.array_equal(a.users, b.users) and np.array_equal(a.items, b.items)
    for user, row in zip(kept.valid.users, kept.valid.items, strict=True):
        assert row[0] in train[user]
    for user, row in zip(kept.test.users, kept.test.items, strict=True):
        assert row[0] not in train[user]


def test_bad_lines_policy(tmp_path):
    events = tmp_path / "LFM-1b_LEs.txt"
    good = (FIXTURES / "lfm1b" / "LFM-1b_LEs.txt").read_bytes()
    events.write_bytes(good + b"7\t1\t1\tx\t1388534500\n")
    with pytest.raises(DataError, match=r"LFM-1b_LEs.txt:23: column 'track'"):
        prepare("lfm1b", events, tmp_path / "a", SMALL, progress=False)
    config = PrepareConfig(**{**SMALL.__dict__, "on_error": "skip"})
    data = prepare("lfm1b", events, tmp_path / "b", config, progress=False)
    assert data.manifest["counts"]["skipped_lines"] == 1
    assert data.manifest["counts"]["skipped_by_reason"] == {"int": 1}


def test_empty_result_is_clear(tmp_path):
    config = PrepareConfig(since="2030-01-01", top_songs=4)
    with pytest.raises(DataError, match="--since 2030-01-01 leaves no events"):
        prepare("lfm1b", FIXTURES / "lfm1b", tmp_path / "out", config, progress=False)
    assert not (tmp_path / "out").exists()


def test_interrupted_prepare_leaves_nothing(tmp_path, monkeypatch):
    from coat_tf.data import records

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(records, "write_records", crash)
    with pytest.raises(KeyboardInterrupt):
        prepare("lfm1b", FIXTURES / "lfm1b", tmp_path / "out", SMALL, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_songs_with_audio_get_chords(tmp_path, monkeypatch):
    import coat_tf.chords as chords
    from coat_tf.chords import ChordSegment, ExtractionReport

    (tmp_path / "a.wav").write_bytes(b"")
    rows = ["user_id\ttrack_id\ttimestamp\taudio_path"]
    for user in range(6):
        for song in set(range(6)) - {user}:
            rows.append(
                f"u{user}\ts{song}\t{T0 + user * 10 + song}\t{'a.wav' if song == 0 else ''}"
            )
    events = tmp_path / "events.tsv"
    events.write_text("\n".join(rows) + "\n")

    def fake_extract(
        paths, cache_dir, settings=None, workers=None, stop_on_error=False, progress=True
    ):
        segments = [ChordSegment("C", 0.0, 1.0), ChordSegment("Am7", 1.0, 2.0)]
        return ExtractionReport(chords={str(p): segments for p in paths})

    monkeypatch.setattr(chords, "extract_many", fake_extract)
    config = PrepareConfig(top_songs=None, min_user_interactions=3, eval_negatives=1)
    data = prepare(
        "events", events, tmp_path / "out", config, progress=False, cache_dir=tmp_path / "cache"
    )
    row = data.song_ids.index("s0")
    vocabulary = data.vocabulary
    assert data.chords[row, :4].tolist() == [vocabulary.encode("C"), vocabulary.encode("Am7")] * 2
    assert data.songs["has_chords"].tolist()[row] == 1
    assert data.manifest["counts"]["songs_without_chords"] == 5
    dropped = PrepareConfig(
        **{**config.__dict__, "songs_without_chords": "drop", "eval_negatives": 0 + 1}
    )
    with pytest.raises(DataError):  # one song left: no room for a negative
        prepare(
            "events",
            events,
            tmp_path / "out2",
            dropped,
            progress=False,
            cache_dir=tmp_path / "cache",
        )


def test_cli_prepare_and_stats(tmp_path, capsys):
    out = tmp_path / "out"
    args = [
        "prepare",
        "--source",
        "lfm1b",
        "--input",
        str(FIXTURES / "lfm1b"),
        "--out",
        str(out),
        "--top-songs",
        "4",
        "--min-user-interactions",
        "3",
        "--eval-negatives",
        "1",
        "--quiet",
        "--compression",
        "gzip",
    ]
    assert main(args) == 0
    for name in (
        "manifest.json",
        "users.tsv",
        "songs.tsv",
        "chords.npy",
        "train.tsv",
        "valid.npz",
        "test.npz",
        "chord_vocabulary.txt",
    ):
        assert (out / name).is_file(), name
    assert len(list((out / "tfrecords").glob("train-*-of-00004.tfrecord.gz"))) == 4
    assert "2 users, 4 songs, 6 interactions, sparsity 25.00%" in capsys.readouterr().out
    assert main(["stats", str(out)]) == 0
    assert "2 users, 4 songs" in capsys.readouterr().out
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["stats", str(tmp_path / "nothing")]) == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["compression"] == "GZIP"
    assert (
        main(
            [
                "prepare",
                "--source",
                "lastfm1k",
                "--input",
                str(tmp_path / "x.tsv"),
                "--out",
                str(tmp_path / "y"),
            ]
        )
        == 2
    )
    assert "no such file" in capsys.readouterr().err


def test_load_rejects_non_dataset(tmp_path):
    with pytest.raises(DataError, match="not a prepared data set"):
        PreparedDataset.load(tmp_path)


def test_demo_source_reads_demo_events(tmp_path, monkeypatch):
    from coat_tf import demo

    folder = tmp_path / "demo-x"
    folder.mkdir()
    rows = ["user_id\ttrack_id\ttimestamp\taudio_path"]
    rows += [f"{u}\t{s}\t{T0 + 10 * u + s}\t" for u in range(5) for s in range(6) if s != u]
    (folder / "events.tsv").write_text("\n".join(rows) + "\n")
    seen = {}

    def fake_get_demo(config=None, cache_root=None, workers=None):
        seen["cache_root"] = cache_root
        return folder

    monkeypatch.setattr(demo, "get_demo", fake_get_demo)
    config = PrepareConfig.for_source("demo", min_user_interactions=3, eval_negatives=1)
    data = prepare("demo", None, tmp_path / "out", config, progress=False, cache_dir=tmp_path)
    assert seen["cache_root"] == tmp_path
    assert data.num_users == 5 and data.num_songs == 6
    assert data.manifest["source"] == {"name": "demo", "input": None}


def test_prepare_is_reproducible(tmp_path):
    import time

    first = prepare("lfm1b", FIXTURES / "lfm1b", tmp_path / "a", SMALL, progress=False)
    time.sleep(2.1)  # zip entries (the .npz files) record times in 2-second steps
    second = prepare("lfm1b", FIXTURES / "lfm1b", tmp_path / "b", SMALL, progress=False)
    assert first.manifest["content_hash"] == second.manifest["content_hash"]


def test_cli_none_turns_each_filtering_step_off(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["prepare", "--source", "lfm1b", "--input", str(FIXTURES / "lfm1b"), "--out", str(out)]
    args += ["--top-songs", "none", "--min-user-interactions", "none", "--since", "none"]
    assert main([*args, "--eval-negatives", "1", "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    settings = manifest["settings"]
    assert (settings["top_songs"], settings["min_user_interactions"], settings["since"]) == (
        None,
        None,
        None,
    )
    assert manifest["steps"]["read"]["events"] == manifest["steps"]["since"]["events"] == 22
    assert manifest["counts"]["songs"] > 4  # more than the default run's top 4 of the fixture


def test_has_audio_only_for_audio_files_that_exist(tmp_path):
    (tmp_path / "here.wav").write_bytes(b"RIFF")  # exists (its extraction fails: no chords)
    rows = ["user_id\ttrack_id\ttimestamp\taudio_path"]
    for user in range(6):
        for song in set(range(6)) - {user}:
            audio = {0: "here.wav", 1: "gone.wav"}.get(song, "")
            rows.append(f"u{user}\ts{song}\t{T0 + user * 10 + song}\t{audio}")
    events = tmp_path / "events.tsv"
    events.write_text("\n".join(rows) + "\n")
    config = PrepareConfig(top_songs=None, min_user_interactions=3, eval_negatives=1)
    data = prepare(
        "events",
        events,
        tmp_path / "out",
        config,
        progress=False,
        cache_dir=tmp_path / "cache",
        workers=1,
    )
    has_audio = dict(zip(data.song_ids, data.songs["has_audio"], strict=True))
    assert (has_audio["s0"], has_audio["s1"], has_audio["s2"]) == (1, 0, 0)
    assert data.manifest["steps"]["chords"]["audio_files_missing"] == 1
    assert data.manifest["steps"]["chords"]["extraction_failures"] == 2


def test_a_damaged_data_set_is_refused_until_rebuilt(tmp_path):
    out = tmp_path / "out"
    data = prepare("lfm1b", FIXTURES / "lfm1b", out, SMALL, progress=False)
    assert set(data.manifest["files"]) >= {"chords.npy", "train.tsv", "valid.npz"}
    (out / "test.npz").write_bytes((out / "test.npz").read_bytes()[:-3])
    with pytest.raises(DataError, match="test.npz: damaged") as caught:
        PreparedDataset.load(out)
    command = str(caught.value).split("Rebuild it with: ")[1]
    assert "--top-songs 4 --min-user-interactions 3 --eval-negatives 1 --shards 2" in command
    assert main(command.split()[3:] + ["--quiet"]) == 0  # the command it gives rebuilds it
    assert PreparedDataset.load(out).manifest["files"] == data.manifest["files"]
