"""``prepare --source playlists`` (a playlist is a listener, its positions the order, the chords
from its chord sheets), the general form (``--source events --order-column --chords``) and
``--chord-key`` at prepare."""

from __future__ import annotations

import csv
import gzip
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coat_tf.chords import ChordSegment, ExtractionReport
from coat_tf.chords.__main__ import main as chords_main
from coat_tf.chords.vocabulary import ChordVocabulary
from coat_tf.data import PrepareConfig, PreparedDataset, prepare
from coat_tf.data.__main__ import main
from coat_tf.data.manifest import rebuild_command
from coat_tf.data.splits import Candidates

SONGS_HEADER = "song\tartist\ttitle\tspotify_tracks\tsource\tsource_id\tcapo\tsyntax\tchords"
#: Chords of the fixture's songs: ``(syntax, capo, chords)``.
SHEETS = {
    "s00": ("symbol", 0, "G C D G x2 Em"),
    "s01": ("harte", 0, "A:min F:maj C:maj G:maj"),
    "s02": ("symbol", 2, "C G Am F"),  # sounds D A Bm G
    "s03": ("symbol", 0, "x2 riff"),  # no chord at all
    "s04": ("symbol", 0, "Am7 D/F# Cadd9 E5"),
}
#: Playlist -> its songs in position order (positions with gaps, as in the real set).
PLAYLISTS = {
    "pl1": ["s05", "s06", "s07", "s08", "s00", "s01"],
    "pl2": ["s09", "s10", "s11", "s12", "s02", "s03"],
    "pl3": ["s13", "s14", "s15", "s16", "s04", "s00"],
    "pl4": ["s17", "s18", "s19", "s05", "s06", "s07", "s08"],
    "pl5": ["s01", "s02"],  # too short to keep
}


def _sheet(song: str) -> tuple[str, int, str]:
    """Every other song of the fixture holds a plain C major progression."""
    return SHEETS.get(song, ("symbol", 0, "C F G C"))


def write_playlists(folder: Path, seed: int = 0) -> Path:
    """The fixture folder: ``playlists.tsv.gz`` (rows shuffled, positions spaced by 7) and
    ``songs.tsv.gz`` (one sheet per song)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        f"{playlist}\t{3 + 7 * position}\t{song}"
        for playlist, songs in PLAYLISTS.items()
        for position, song in enumerate(songs)
    ]
    random.Random(seed).shuffle(rows)
    text = "\n".join(["playlist\tposition\tsong", *rows]) + "\n"
    (folder / "playlists.tsv.gz").write_bytes(gzip.compress(text.encode()))
    songs = sorted({song for songs in PLAYLISTS.values() for song in songs})
    lines = [SONGS_HEADER]
    for song in songs:
        syntax, capo, chords = _sheet(song)
        lines.append(f"{song}\tartist\ttitle {song}\tt{song}\tsrc\t1\t{capo}\t{syntax}\t{chords}")
    (folder / "songs.tsv.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return folder


SMALL = {"min_user_interactions": 3, "eval_negatives": 3, "num_shards": 1}


def _prepare(source: str, path: Path, out: Path, chords_dir=None, **settings) -> PreparedDataset:
    config = PrepareConfig.for_source(source, **{**SMALL, **settings})
    return prepare(source, path, out, config, progress=False, chords_dir=chords_dir)


def _held_out(data: PreparedDataset, split: str) -> dict[str, str]:
    """User id -> the song id held out for ``split`` (``valid`` or ``test``)."""
    candidates: Candidates = getattr(data, split)
    return {
        data.user_ids[u]: data.song_ids[s]
        for u, s in zip(candidates.users, candidates.positives, strict=True)
    }


def _ids(vocabulary: ChordVocabulary, labels: str, length: int = 8) -> list[int]:
    changes = [vocabulary.encode(label) for label in labels.split()]
    return (changes * length)[:length]


@pytest.mark.parametrize("seed", [0, 1])
def test_playlists_split_follows_position(tmp_path: Path, seed: int) -> None:
    """Whatever the order of the rows, the last song of a playlist is its test item and the one
    before its validation item; a playlist with too few songs is left out."""
    folder = write_playlists(tmp_path / "in", seed)
    data = _prepare("playlists", folder, tmp_path / "out")
    assert data.user_ids == ["pl1", "pl2", "pl3", "pl4"]
    assert _held_out(data, "test") == {p: s[-1] for p, s in PLAYLISTS.items() if len(s) > 2}
    assert _held_out(data, "valid") == {p: s[-2] for p, s in PLAYLISTS.items() if len(s) > 2}
    train = data.train
    for user, playlist in enumerate(data.user_ids):
        mine = train[train["user"] == user]
        assert {data.song_ids[s] for s in mine["song"]} == set(PLAYLISTS[playlist][:-2])
    manifest = data.manifest
    assert manifest["order"] == "position" and manifest["settings"]["since"] is None
    assert manifest["settings"]["top_songs"] is None
    assert manifest["counts"]["users"] == 4 and manifest["counts"]["test"] == 4


def test_playlists_chords_come_from_the_sheets(tmp_path: Path) -> None:
    """Symbols and Harte labels are read as ``chords import`` reads them (capo included); the
    tokens that are not chords are reported with the data set; a song without a readable chord
    has none."""
    data = _prepare("playlists", write_playlists(tmp_path / "in"), tmp_path / "out")
    vocabulary = data.vocabulary
    chords = {song: data.chords[i, :8].tolist() for i, song in enumerate(data.song_ids)}
    assert chords["s00"] == _ids(vocabulary, "G C D G E:min")
    assert chords["s01"] == _ids(vocabulary, "A:min F C G")
    assert chords["s02"] == _ids(vocabulary, "D A B:min G")  # capo 2
    assert chords["s04"] == _ids(vocabulary, "A:min D C E")
    has = dict(zip(data.song_ids, data.songs["has_chords"], strict=True))
    assert has["s03"] == 0 and chords["s03"] == [0] * 8
    assert sum(has.values()) == len(has) - 1
    assert data.songs.set_index("id").loc["s02", "name"] == "artist - title s02"
    report = data.manifest["chords"]
    assert report["from"] == "chord sheets" and report["songs_without_readable_chord"] == 1
    assert ["x2", 2] in report["most_unread"] and report["tokens_read"] < report["tokens"]
    unread = pd.read_csv(data.path / "chords_unread.tsv", sep="\t")
    assert unread.set_index("token").loc["x2"].tolist() == [2, 2]
    assert "chords_unread.tsv" in data.manifest["files"]
    assert any("s03" in reason for _, reason in data.manifest["chord_failures"])
    dropped = _prepare(
        "playlists", tmp_path / "in", tmp_path / "dropped", songs_without_chords="drop"
    )
    assert "s03" not in dropped.song_ids


def test_chord_key_relative_moves_every_song_to_a_common_tonic(tmp_path: Path) -> None:
    """``--chord-key relative``: G major's I-IV-V becomes C major's, A minor stays, and the
    manifest says which keys the chords are in."""
    folder = write_playlists(tmp_path / "in")
    absolute = _prepare("playlists", folder, tmp_path / "absolute")
    relative = _prepare("playlists", folder, tmp_path / "relative", chord_key="relative")
    vocabulary = relative.vocabulary
    row = relative.song_ids.index("s00")
    assert relative.chords[row, :5].tolist() == _ids(vocabulary, "C F G C A:min", 5)
    assert absolute.chords[row, :5].tolist() == _ids(vocabulary, "G C D G E:min", 5)
    row = relative.song_ids.index("s01")  # A minor already
    assert relative.chords[row].tolist() == absolute.chords[row].tolist()
    row = relative.song_ids.index("s02")  # sounds D A Bm G: D major
    assert relative.chords[row, :4].tolist() == _ids(vocabulary, "C G A:min F", 4)
    assert (absolute.manifest["chord_key"], relative.manifest["chord_key"]) == (
        "absolute",
        "relative",
    )
    assert "--chord-key relative" in rebuild_command(relative.path, relative.manifest)


def test_chord_key_relative_applies_to_chords_from_audio(tmp_path: Path, monkeypatch) -> None:
    """Chordino's chords are moved to the common tonic too (an events file with audio)."""
    import coat_tf.chords as chords

    (tmp_path / "a.wav").write_bytes(b"")
    rows = ["user_id\ttrack_id\ttimestamp\taudio_path"]
    for user in range(6):
        for song in [*range(8), 8 + user % 4]:  # 12 songs, 3 that each user never heard
            audio = "a.wav" if song == 0 else ""
            rows.append(f"u{user}\ts{song}\t{1_400_000_000 + user * 20 + song}\t{audio}")
    events = tmp_path / "events.tsv"
    events.write_text("\n".join(rows) + "\n")
    segments = [
        ChordSegment(label, float(i), i + 1.0) for i, label in enumerate(["G", "C", "D", "G"])
    ]

    def fake_extract(paths, cache_dir, settings=None, workers=None, **kwargs):
        return ExtractionReport(chords={str(p): segments for p in paths})

    monkeypatch.setattr(chords, "extract_many", fake_extract)
    data = _prepare(
        "events", events, tmp_path / "out", top_songs=None, chord_key="relative", since=None
    )
    row = data.song_ids.index("s0")
    assert data.chords[row, :4].tolist() == _ids(data.vocabulary, "C F G C", 4)


def _events_by_position(folder: Path) -> Path:
    """The fixture's playlists as a user's own events file: ``user_id, track_id, position``
    (no timestamp), rows shuffled."""
    rows = [
        f"{playlist}\t{song}\t{10 * position}"
        for playlist, songs in PLAYLISTS.items()
        for position, song in enumerate(songs)
    ]
    random.Random(3).shuffle(rows)
    path = folder / "events.tsv"
    path.write_text("\n".join(["user_id\ttrack_id\tposition", *rows]) + "\n")
    return path


def _chord_table(folder: Path, *options: str) -> Path:
    """``chords import`` of the fixture's songs.tsv.gz."""
    sheets = write_playlists(folder / "sheets") / "songs.tsv.gz"
    out = folder / "chords"
    assert chords_main(["import", str(sheets), "--out", str(out), "--quiet", *options]) == 0
    return out


def test_events_with_an_order_column_and_a_chord_table(tmp_path: Path, capsys) -> None:
    """The general form: a user's events ordered by a column that is not a time, with the
    chord table of ``chords import`` beside it, gives the playlists' data set."""
    events = _events_by_position(tmp_path)
    table = _chord_table(tmp_path)
    out = tmp_path / "out"
    argv = ["prepare", "--source", "events", "--input", str(events), "--out", str(out)]
    argv += ["--order-column", "position", "--chords", str(table), "--quiet"]
    argv += ["--min-user-interactions", "3", "--eval-negatives", "3", "--shards", "1"]
    assert main(argv) == 0, capsys.readouterr().err
    data = PreparedDataset.load(out)
    assert _held_out(data, "test") == {p: s[-1] for p, s in PLAYLISTS.items() if len(s) > 2}
    assert _held_out(data, "valid") == {p: s[-2] for p, s in PLAYLISTS.items() if len(s) > 2}
    playlists = _prepare("playlists", tmp_path / "sheets", tmp_path / "playlists")
    order = [playlists.song_ids.index(s) for s in data.song_ids]
    assert np.array_equal(data.chords, playlists.chords[order])
    assert data.manifest["order"] == "position"
    assert data.manifest["source"]["chords"] == str(table)
    assert data.manifest["chords"]["from"] == "chord table"
    command = rebuild_command(out, data.manifest)
    assert "--order-column position" in command and f"--chords {table}" in command
    assert "--since" not in command


def test_a_chord_table_of_other_settings_is_refused(tmp_path: Path, capsys) -> None:
    events = _events_by_position(tmp_path)
    table = _chord_table(tmp_path, "--chord-key", "relative")
    argv = ["prepare", "--source", "events", "--input", str(events), "--quiet"]
    argv += ["--out", str(tmp_path / "out"), "--order-column", "position"]
    assert main([*argv, "--chords", str(table)]) == 2
    err = capsys.readouterr().err
    assert "summary.json: the chord table was made with chord_key 'relative'" in err
    assert "pass --chord-key relative to prepare" in err
    assert not (tmp_path / "out").exists()
    argv += ["--min-user-interactions", "3", "--eval-negatives", "3", "--chord-key", "relative"]
    assert main([*argv, "--chords", str(table)]) == 0
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["chord_key"] == "relative"


@pytest.mark.parametrize(
    ("source", "options", "says"),
    [
        ("playlists", ["--since", "2014-01-01"], "--since does not apply to --source playlists"),
        ("playlists", ["--mfcc"], "--mfcc does not apply to --source playlists"),
        ("playlists", ["--chords", "x"], "--chords does not apply to --source playlists"),
        ("playlists", ["--order-column", "position"], "--order-column does not apply to"),
        ("events", ["--order-column", "position", "--since", "none"], "--since does not apply"),
        ("lfm1b", ["--chord-key", "relative"], "--chord-key does not apply to --source lfm1b"),
        ("movielens", ["--chords", "x"], "--chords does not apply to --source movielens"),
    ],
)
def test_options_that_do_not_apply_are_refused(
    tmp_path: Path, capsys, source: str, options: list[str], says: str
) -> None:
    argv = ["prepare", "--source", source, "--input", str(tmp_path), "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "out"), *options]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_order_column_turns_the_date_step_off() -> None:
    assert PrepareConfig.for_source("events", order_column="position").since is None
    assert PrepareConfig.for_source("events").since == "2014-01-01"
    with pytest.raises(ValueError, match="since must be None with order_column 'position'"):
        PrepareConfig(order_column="position")


def _slice(shared: Path, folder: Path, playlists: int) -> Path:
    """The first ``playlists`` playlists of the real folder and their songs' sheets."""
    source = shared / "playlists-chords"
    plain = {"sep": "\t", "quoting": csv.QUOTE_NONE}  # the files as they are, quotes included
    events = pd.read_csv(source / "playlists.tsv.gz", dtype=str, **plain)
    kept = events[events["playlist"].isin(events["playlist"].unique()[:playlists])]
    songs = pd.read_csv(source / "songs.tsv.gz", dtype=str, keep_default_na=False, **plain)
    songs = songs[songs["song"].isin(set(kept["song"]))]
    folder.mkdir(parents=True)
    kept.to_csv(folder / "playlists.tsv.gz", index=False, **plain)
    songs.to_csv(folder / "songs.tsv.gz", index=False, **plain)
    return folder


@pytest.mark.slow
def test_a_slice_of_the_real_playlists_runs_an_experiment(tmp_path: Path, shared_data) -> None:
    """A slice of the real folder: prepared with the paper's settings, then a one-epoch
    experiment of COAT and GMF on it writes its tables."""
    from coat_tf.experiments.__main__ import main as experiments

    folder = _slice(shared_data, tmp_path / "slice", 300)
    out = tmp_path / "data"
    argv = ["prepare", "--source", "playlists", "--input", str(folder), "--out", str(out)]
    assert main([*argv, "--quiet", "--shards", "1"]) == 0
    data = PreparedDataset.load(out)
    counts = data.manifest["counts"]
    assert counts["users"] > 50 and counts["negatives"] == 99
    assert data.manifest["chords"]["share_read"] > 0.99
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"defaults": {"train": {"jit_compile": False}}}))
    runs = tmp_path / "fig2"
    argv = ["fig2", "--data", str(out), "--out", str(runs), "--models", "coat", "gmf"]
    argv += ["--seeds", "0", "--factors", "8", "--epochs", "1", "--no-full-catalogue"]
    assert experiments([*argv, "--config", str(config)]) == 0
    assert (runs / "results.csv").is_file() and (runs / "fig2.md").is_file()
    assert {"coat", "gmf"} <= set(pd.read_csv(runs / "results.csv")["model"])
