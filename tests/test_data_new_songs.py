"""``prepare --new-songs``: the new songs leave the catalogue before the split, and get their own
index space, files and candidates per shelf (:mod:`coat_tf.data.new_songs`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coat_tf.data import PrepareConfig, PreparedDataset, prepare
from coat_tf.data.__main__ import main
from coat_tf.data.manifest import file_counts, rebuild_command, verify_counts
from coat_tf.data.new_songs import NewSongs
from coat_tf.data.records import read_records
from coat_tf.data.splits import Candidates
from tests.test_data_ncf import write_ncf
from tests.test_data_playlists import write_playlists
from tests.tiny_data import write_events

NEW_COUNTS = (
    "new_songs",
    "new_songs_valid",
    "new_songs_test",
    "new_valid",
    "new_test",
    "new_valid_users",
    "new_test_users",
    "new_negatives",
)


def _events_data(folder: Path, **settings) -> PreparedDataset:
    """The tiny events (80 listeners, 300 songs, every listener kept) with new songs."""
    events = folder / "events.tsv"
    if not events.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        write_events(events)
    config = PrepareConfig.for_source(
        "events",
        **{
            "since": None,
            "min_user_interactions": 5,
            "eval_negatives": 20,
            "num_shards": 2,
            "new_songs": 0.1,
            **settings,
        },
    )
    out = folder / f"out-{len(list(folder.glob('out-*')))}"
    return prepare("events", events, out, config, progress=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[PreparedDataset, pd.DataFrame]:
    """A small demo data set (audio, extracted chords) with new songs by time, and its raw
    events."""
    from coat_tf.demo import DemoConfig, get_demo

    folder = tmp_path_factory.mktemp("new_songs_demo")
    demo_config = DemoConfig(
        num_songs=30, num_users=60, song_seconds=4.0, min_songs=5, mean_extra_songs=3.0
    )
    config = PrepareConfig.for_source(
        "demo", min_user_interactions=3, eval_negatives=2, num_shards=1, new_songs=0.4
    )
    data = prepare(
        "demo",
        None,
        folder / "out",
        config,
        progress=False,
        cache_dir=folder,
        workers=1,
        demo_config=demo_config,
    )
    raw = get_demo(demo_config, cache_root=folder, workers=1) / "events.tsv"
    events = pd.read_csv(raw, sep="\t", dtype={"user_id": str, "track_id": str})
    return data, events


@pytest.fixture(scope="module")
def events_data(tmp_path_factory: pytest.TempPathFactory) -> PreparedDataset:
    return _events_data(tmp_path_factory.mktemp("new_songs_events"))


def _new_pairs(data: PreparedDataset, events: pd.DataFrame) -> set[tuple[str, str]]:
    """The raw (user id, song id) pairs of catalogue users with new songs."""
    new, users = set(data.new_songs.ids), set(data.user_ids)
    pairs = zip(events["user_id"].astype(str), events["track_id"].astype(str), strict=True)
    return {(u, s) for u, s in pairs if s in new and u in users}


def _check_no_new_song_in_the_catalogue(data: PreparedDataset) -> None:
    new = set(data.new_songs.ids)
    assert new and not new & set(data.song_ids)
    assert len(data.chords) == data.num_songs == len(data.songs)
    indices = {
        "train.tsv": data.train["song"].to_numpy(),
        "valid.npz": data.valid.items,
        "test.npz": data.test.items,
        "exclusions": np.concatenate(data.train_items_by_user()),
        "train keys": data.train_keys() % data.num_songs,
    }
    _, indices["tfrecords"], _ = read_records(
        data.record_files, data.sequence_length, data.compression
    )
    assert len(indices["tfrecords"]) == len(data.train)
    for name, songs in indices.items():
        assert songs.min() >= 0 and songs.max() < data.num_songs, name
        assert not new & {data.song_ids[s] for s in np.unique(songs)}, name


def _check_rows(data: PreparedDataset, pairs: set[tuple[str, str]]) -> None:
    """One row per (catalogue user, new song) pair; negatives of the shelf, not the user's."""
    new = data.new_songs
    width = data.manifest["counts"]["new_negatives"]
    seen = set()
    for name in ("valid", "test"):
        rows, shelf = new.split(name), set(new.shelf_songs(name).tolist())
        assert rows.items.shape == (len(rows), 1 + width)
        users_songs: dict[int, set[int]] = {}
        for user, song in zip(rows.users.tolist(), rows.positives.tolist(), strict=True):
            users_songs.setdefault(user, set()).add(song)
            seen.add((data.user_ids[user], new.ids[song]))
        for user, items in zip(rows.users.tolist(), rows.items.tolist(), strict=True):
            assert set(items) <= shelf
            assert len(set(items)) == len(items)
            assert not set(items[1:]) & users_songs[user]
    assert seen == pairs


@pytest.mark.slow
def test_the_demo_catalogue_holds_no_new_song(demo) -> None:
    data, events = demo
    _check_no_new_song_in_the_catalogue(data)
    _check_rows(data, _new_pairs(data, events))
    assert (data.path / "new_chords.npy").is_file() and data.new_songs.mfcc is None
    # the new songs' chords are extracted as the catalogue's are
    assert data.new_songs.chords.shape == (len(data.new_songs), data.sequence_length)
    table = pd.read_csv(data.path / "new_songs.tsv", sep="\t", dtype={"id": str})
    assert list(table.columns) == ["index", "id", "shelf", "has_chords", "has_audio", "name"]
    assert table["has_chords"].all() and table["has_audio"].all()
    assert data.new_songs.content("chord_ids") is data.new_songs.chords
    with pytest.raises(ValueError, match="--mfcc"):
        data.new_songs.content("mfcc")


def test_the_events_catalogue_holds_no_new_song(events_data) -> None:
    data = events_data
    _check_no_new_song_in_the_catalogue(data)
    events = pd.read_csv(data.path.parent / "events.tsv", sep="\t", dtype={"track_id": str})
    _check_rows(data, _new_pairs(data, events))
    steps = data.manifest["steps"]
    assert steps["new_songs"]["new_song_interactions"] == sum(
        len(data.new_songs.split(name)) for name in ("valid", "test")
    )
    assert (
        steps["new_songs"]["interactions"] + steps["new_songs"]["new_song_interactions"]
        == steps["min_user_interactions"]["interactions"]
    )


def test_by_time_the_test_shelf_holds_the_songs_first_heard_latest(events_data) -> None:
    data = events_data
    events = pd.read_csv(data.path.parent / "events.tsv", sep="\t", dtype={"track_id": str})
    first = events.groupby("track_id")["timestamp"].min()
    new = data.new_songs
    valid = first[[new.ids[i] for i in new.shelf_songs("valid")]]
    test = first[[new.ids[i] for i in new.shelf_songs("test")]]
    assert first[data.song_ids].max() <= valid.min() and valid.max() <= test.min()
    assert len(new) == int(np.ceil(0.1 * len(first))) == 30
    assert (len(valid), len(test)) == (15, 15)
    settings = data.manifest["settings"]
    assert (settings["new_songs"], settings["new_songs_by"]) == (0.1, "time")


def test_random_is_reproducible_with_the_seed(tmp_path: Path) -> None:
    first = _events_data(tmp_path, new_songs_by="random", seed=3)
    again = _events_data(tmp_path, new_songs_by="random", seed=3)
    other = _events_data(tmp_path, new_songs_by="random", seed=4)
    for name in ("new_songs.tsv", "new_chords.npy", "new_valid.npz", "new_test.npz"):
        assert (first.path / name).read_bytes() == (again.path / name).read_bytes(), name
    assert first.new_songs.ids != other.new_songs.ids
    timed = _events_data(tmp_path)
    assert set(first.new_songs.ids) != set(timed.new_songs.ids)
    _check_no_new_song_in_the_catalogue(first)


def test_the_manifest_counts_match_the_files(events_data, tmp_path: Path, capsys) -> None:
    data = events_data
    counts = data.manifest["counts"]
    found = file_counts(data.path, data.manifest)
    assert {k: counts[k] for k in NEW_COUNTS} == {k: found[k] for k in NEW_COUNTS}
    assert counts["new_valid"] == len(data.new_songs.valid)
    assert counts["new_songs_valid"] + counts["new_songs_test"] == counts["new_songs"]
    verify_counts(data.path, data.manifest)
    assert main(["stats", str(data.path)]) == 0
    assert f"new songs {counts['new_songs']}" in capsys.readouterr().out
    copy = tmp_path / "copy"
    shutil.copytree(data.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["counts"]["new_test"] += 1
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert main(["stats", str(copy)]) == 2
    assert "counts.new_test says" in capsys.readouterr().err


def test_shelf_exclusions(events_data) -> None:
    new = events_data.new_songs
    for name in ("valid", "test"):
        rows, shelf = new.split(name), new.shelf_songs(name)
        outside = set(range(len(new))) - set(shelf.tolist())
        exclusions = new.shelf_exclusions(name)
        assert len(exclusions) == len(rows)
        for user, positive, excluded in zip(
            rows.users.tolist(), rows.positives.tolist(), exclusions, strict=True
        ):
            others = set(rows.positives[rows.users == user].tolist()) - {positive}
            assert positive not in excluded
            assert set(excluded.tolist()) == outside | others


def test_shelf_exclusions_by_hand() -> None:
    new = NewSongs(
        ids=["a", "b", "c", "d", "e"],
        shelf=np.array(["valid", "valid", "test", "test", "test"]),
        chords=np.zeros((5, 3), np.int32),
        mfcc=None,
        valid=Candidates(np.array([0], np.int32), np.array([[0, 1]], np.int32)),
        test=Candidates(np.array([0, 0, 1], np.int32), np.array([[2, 4], [3, 4], [3, 2]])),
    )
    assert new.shelf_songs("test").tolist() == [2, 3, 4]
    assert [e.tolist() for e in new.shelf_exclusions("test")] == [[0, 1, 3], [0, 1, 2], [0, 1]]
    assert [e.tolist() for e in new.shelf_exclusions("valid")] == [[2, 3, 4]]
    with pytest.raises(ValueError, match="'valid' or 'test'"):
        new.split("train")


def test_the_loaded_form_and_the_rebuild_command(events_data, tmp_path: Path) -> None:
    data = PreparedDataset.load(events_data.path)
    assert isinstance(data.new_songs, NewSongs)
    assert data.new_songs.split("test").items.dtype == np.int32
    command = rebuild_command(data.path, data.manifest)
    assert "--new-songs 0.1" in command and "--new-songs-by" not in command
    random = _events_data(tmp_path, new_songs_by="random")
    assert "--new-songs 0.1 --new-songs-by random" in rebuild_command(random.path, random.manifest)
    plain = _events_data(tmp_path, new_songs=None)
    assert plain.new_songs is None and "new_songs" not in plain.manifest["counts"]
    assert plain.manifest["settings"]["new_songs"] is None


def test_playlists_take_random_new_songs(tmp_path: Path) -> None:
    folder = write_playlists(tmp_path / "playlists")
    config = PrepareConfig.for_source(
        "playlists",
        min_user_interactions=3,
        eval_negatives=3,
        num_shards=1,
        new_songs=0.5,
        new_songs_by="random",
    )
    data = prepare("playlists", folder, tmp_path / "out", config, progress=False)
    _check_no_new_song_in_the_catalogue(data)
    assert data.new_songs.chords.shape[1] == data.sequence_length


def _cli(tmp_path: Path, source: str, path: Path, *options: str) -> list[str]:
    out = ["--out", str(tmp_path / "out"), "--quiet"]
    return ["prepare", "--source", source, "--input", str(path), *out, *options]


@pytest.mark.parametrize(
    ("source", "options", "why"),
    [
        ("playlists", (), "a playlist's positions order its songs"),
        ("playlists", ("--new-songs-by", "time"), "a playlist's positions order its songs"),
        ("movielens", (), "it has no timestamps"),
        ("events", ("--order-column", "position"), "its order column 'position' holds no"),
    ],
)
def test_new_songs_by_time_is_refused_without_a_time(
    tmp_path: Path, capsys, source: str, options: tuple, why: str
) -> None:
    inputs = {
        "playlists": lambda: write_playlists(tmp_path / "playlists"),
        "movielens": lambda: Path(__file__).parent / "fixtures" / "movielens",
        "events": lambda: write_events(tmp_path / "events.tsv"),
    }
    argv = _cli(tmp_path, source, inputs[source](), "--new-songs", "0.2", *options)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: --new-songs-by time does not apply to --source {source} ({why}" in err
    assert "use --new-songs-by random" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1", "nan", "a tenth"])
def test_a_fraction_out_of_range_is_refused(tmp_path: Path, capsys, value: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(_cli(tmp_path, "events", tmp_path / "e.tsv", "--new-songs", value))
    assert exit_.value.code == 2
    assert "--new-songs: expected a fraction strictly between 0 and 1" in capsys.readouterr().err
    for bad in (0, 1, 1.5, -0.1, True):
        with pytest.raises(ValueError, match="new_songs must be a fraction strictly between"):
            PrepareConfig(new_songs=bad)


def test_new_songs_by_alone_and_on_ncf_are_refused(tmp_path: Path, capsys) -> None:
    events = write_events(tmp_path / "events.tsv")
    assert main(_cli(tmp_path, "events", events, "--new-songs-by", "random")) == 2
    assert "--new-songs-by applies only with --new-songs" in capsys.readouterr().err
    assert main(_cli(tmp_path, "ncf", write_ncf(tmp_path / "ncf"), "--new-songs", "0.2")) == 2
    assert "--new-songs does not apply to --source ncf" in capsys.readouterr().err


def test_too_few_new_songs_is_an_error(tmp_path: Path, capsys) -> None:
    events = write_events(tmp_path / "events.tsv")
    argv = _cli(tmp_path, "events", events, "--since", "none", "--new-songs", "0.01")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--new-songs 0.01 gives 3 new songs of the 298 songs left after filtering" in err
    assert "it needs at least 4 (two per shelf" in err
    assert not (tmp_path / "out").exists()


def test_a_shelf_no_catalogue_user_has_is_an_error() -> None:
    from coat_tf.data.errors import DataError
    from coat_tf.data.new_songs import Choice, shelf_rows

    choice = Choice(valid=["a", "b", "c"], test=["d", "e"])
    pairs = pd.DataFrame({"user": [0, 1], "song": [0, 1]})
    with pytest.raises(DataError, match="no user left in the catalogue has a song of the new"):
        shelf_rows(pairs, choice, num_users=2, negatives=99, seed=0, where="x")
    pairs = pd.DataFrame({"user": [0, 1, 1], "song": [0, 1, 3]})
    rows, width = shelf_rows(pairs, choice, num_users=2, negatives=99, seed=0, where="x")
    assert width == 1  # the test shelf's 2 songs less the user's one
    assert rows["test"].items.tolist() == [[3, 4]]
    assert rows["valid"].users.tolist() == [0, 1] and rows["valid"].items.shape == (2, 2)


def test_a_damaged_new_song_file_is_refused_on_load(events_data, tmp_path: Path) -> None:
    from coat_tf.data.errors import DataError

    for name in ("new_songs.tsv", "new_chords.npy", "new_valid.npz", "new_test.npz"):
        copy = tmp_path / name
        shutil.copytree(events_data.path, copy)
        data = bytearray((copy / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (copy / name).write_bytes(bytes(data))
        with pytest.raises(DataError, match=name.replace(".", r"\.")):
            PreparedDataset.load(copy)


def test_the_new_songs_mfccs_are_computed_as_the_catalogues(tmp_path: Path, monkeypatch) -> None:
    import importlib

    prepare_module = importlib.import_module("coat_tf.data.prepare")  # not the function

    def fake_mfcc(songs, audio, cache_dir, workers, progress):  # noqa: ANN001, ANN202
        """Each song's MFCCs: its id's number, everywhere."""
        return np.stack([np.full((3, 4), float(s[1:]), np.float32) for s in songs])

    monkeypatch.setattr(prepare_module, "mfcc_table", fake_mfcc)
    data = _events_data(tmp_path, mfcc=True)
    new = data.new_songs
    assert new.mfcc.shape == (len(new), 3, 4) and new.mfcc.dtype == np.float32
    assert new.mfcc[:, 0, 0].tolist() == [float(s[1:]) for s in new.ids]
    assert new.content("mfcc") is new.mfcc
    assert data.mfcc[:, 0, 0].tolist() == [float(s[1:]) for s in data.song_ids]
