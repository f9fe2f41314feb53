"""``python -m coat_tf.chords``: the files each command promises."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coat_tf.chords.cli import list_inputs, main
from coat_tf.chords.vocabulary import ChordVocabulary
from tests.test_chords_extract import PROGRESSION_LABELS, bad_files, write_audio


@pytest.fixture
def music(tmp_path):
    folder = tmp_path / "music"
    write_audio(folder / "a.wav")
    write_audio(folder / "sub" / "b.ogg")
    bad_files(folder)  # corrupt.wav, empty.ogg, zero_frames.wav, silent.wav
    (folder / "notes.txt").write_text("not audio")
    return folder


def read_tsv(path):
    header, *rows = path.read_text().splitlines()
    return header.split("\t"), [row.split("\t") for row in rows]


def test_extract_folder(tmp_path, music) -> None:
    out = tmp_path / "out"
    assert main(["extract", str(music), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    for name in ("vocabulary.json", "chords.tsv", "segments.jsonl", "failures.tsv", "summary.json"):
        assert (out / name).is_file(), name
    vocabulary = ChordVocabulary.load(out / "vocabulary.json")
    assert vocabulary.name == "majmin"
    header, rows = read_tsv(out / "chords.tsv")
    assert header == ["song", "changes", "chords"]
    assert [row[0] for row in rows] == ["a.wav", "sub/b.ogg"]
    for _, changes, chords in rows:
        ids = [int(i) for i in chords.split()]
        assert int(changes) == 4 and len(ids) == 100
        expected = [vocabulary.labels.index(label) for label in PROGRESSION_LABELS]
        assert ids == (expected * 25)
    segments = [json.loads(line) for line in (out / "segments.jsonl").read_text().splitlines()]
    assert [s["song"] for s in segments] == ["a.wav", "sub/b.ogg"]
    assert segments[0]["segments"][1][0] == "C"
    _, failures = read_tsv(out / "failures.tsv")
    assert sorted(f[0] for f in failures) == [
        "corrupt.wav",
        "empty.ogg",
        "silent.wav",
        "zero_frames.wav",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["songs"] == 2 and summary["failed"] == 4 and summary["inputs"] == 6
    assert summary["extracted"] == 2 and summary["no_chord_songs"] == 0
    assert summary["truncated_songs"] == 0 and summary["repeated_songs"] == 2
    assert summary["times_real_time"] > 0
    assert (out / "cache" / "chords").is_dir()

    # A second run reads everything from the cache.
    assert main(["extract", str(music), "--out", str(out), "--quiet", "--vocabulary", "full"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["extracted"] == 0 and summary["cached"] == 2
    assert summary["vocabulary"] == "full" and summary["vocabulary_size"] == 205


def test_list_file_and_mfcc(tmp_path, music) -> None:
    listing = tmp_path / "songs.list"
    listing.write_text("# two songs\nmusic/a.wav\tsong-a\n\nmusic/sub/b.ogg\n")
    assert list_inputs(listing) == [
        ("song-a", str(tmp_path / "music/a.wav")),
        ("music/sub/b.ogg", str(tmp_path / "music/sub/b.ogg")),
    ]
    out = tmp_path / "mfcc"
    cache = tmp_path / "shared_cache"
    args = ["mfcc", str(listing), "--out", str(out), "--cache", str(cache), "--quiet"]
    assert main([*args, "--excerpt-seconds", "2", "--n-mfcc", "13", "--workers", "1"]) == 0
    features = np.load(out / "mfcc.npy")
    assert features.shape == (2, 13, 1 + 44100 // 512) and features.dtype == np.float32
    _, rows = read_tsv(out / "songs.tsv")
    assert rows == [["0", "song-a"], ["1", "music/sub/b.ogg"]]
    assert json.loads((out / "summary.json").read_text())["shape"] == [2, 13, 87]
    assert (cache / "mfcc").is_dir()


def test_errors(tmp_path, music, capsys) -> None:
    assert main(["extract", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in capsys.readouterr().err
    listing = tmp_path / "dup.list"
    listing.write_text("music/a.wav\tx\nmusic/sub/b.ogg\tx\n")
    assert main(["extract", str(listing), "--out", str(tmp_path / "o")]) == 2
    assert "appears twice" in capsys.readouterr().err
    stop = ["extract", str(music), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"]
    assert main([*stop, "--stop-on-error"]) == 1
    assert "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["extract", "--help"])
    assert caught.value.code == 0
    assert "--vocabulary" in capsys.readouterr().out
