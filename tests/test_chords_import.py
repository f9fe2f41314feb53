"""``python -m coat_tf.chords import``: chord sheets and annotations to the chord table."""

from __future__ import annotations

import gzip
import json

import pytest

from coat_tf.chords.cli import main
from coat_tf.chords.vocabulary import ChordVocabulary
from tests.test_chords_cli import read_tsv

HEADER = "song\tartist\tcapo\tsyntax\tchords"
ROWS = [
    "s1\tone\t0\tsymbol\tG C D/F# G x2 | Em C D G",
    "s2\ttwo\t2\tsymbol\tAm F C G",
    "s3\tthree\t0\tharte\tA:min D:min E:7 N A:min",
    "s4\tfour\t0\tsymbol\tx2 Intro: |",
    "s5\tfive\t0\tsymbol\tE5 N.C. E5 A5 x2",
]
MAJMIN = ChordVocabulary.from_name("majmin")


def ids(*labels: str) -> list[int]:
    return [MAJMIN.encode(label) for label in labels]


def expected_row(changes: list[int], length: int = 100) -> list[int]:
    return (changes * length)[:length]


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "sheets.tsv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n")
    return path


def test_import_end_to_end(tmp_path, table) -> None:
    out = tmp_path / "out"
    assert main(["import", str(table), "--out", str(out), "--quiet"]) == 0
    for name in (
        "vocabulary.json",
        "chords.tsv",
        "failures.tsv",
        "unread.tsv",
        "unread_songs.tsv",
        "labels.jsonl",
        "summary.json",
    ):
        assert (out / name).is_file(), name
    assert not (out / "keys.tsv").exists()
    assert ChordVocabulary.load(out / "vocabulary.json") == MAJMIN
    header, rows = read_tsv(out / "chords.tsv")
    assert header == ["song", "changes", "chords"]
    table_ids = {song: (int(n), [int(i) for i in c.split()]) for song, n, c in rows}
    assert list(table_ids) == ["s1", "s2", "s3", "s5"]  # s4 has no chord
    s1 = ids("G:maj", "C:maj", "D:maj", "G:maj", "E:min", "C:maj", "D:maj", "G:maj")
    assert table_ids["s1"] == (8, expected_row(s1))
    capo2 = ids("B:min", "G:maj", "D:maj", "A:maj")  # Am F C G, capo on fret 2
    assert table_ids["s2"] == (4, expected_row(capo2))
    assert table_ids["s3"] == (4, expected_row(ids("A:min", "D:min", "E:maj", "A:min")))
    assert table_ids["s5"] == (2, expected_row(ids("E:maj", "A:maj")))  # E5 N.C. E5 = one E
    _, failures = read_tsv(out / "failures.tsv")
    assert failures == [["s4", f"{table}:5", "no readable chord (3 tokens, 3 not chords)"]]
    _, unread = read_tsv(out / "unread.tsv")
    assert unread == [["x2", "3", "3"], ["|", "2", "2"], ["Intro:", "1", "1"]]
    _, by_song = read_tsv(out / "unread_songs.tsv")
    assert [row[:3] for row in by_song] == [["s1", "10", "2"], ["s4", "3", "3"], ["s5", "5", "1"]]
    labels = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert labels[1] == {
        "song": "s2",
        "source": f"{table}:3",
        "labels": ["B:min", "G:maj", "D:maj", "A:maj"],
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["songs"] == 4 and summary["inputs"] == 5 and summary["failed"] == 1
    assert summary["tokens"] == 27 and summary["tokens_unread"] == 6
    assert summary["tokens_no_chord"] == 2  # N and N.C.
    assert summary["share_read"] == pytest.approx(21 / 27, abs=1e-6)
    assert summary["most_unread"][0] == ["x2", 3]
    assert summary["by_syntax"]["harte"] == {
        "rows": 1,
        "tokens": 5,
        "tokens_read": 5,
        "share_read": 1.0,
    }
    assert summary["capo_rows"] == 1 and summary["chord_key"] == "absolute"
    assert summary["parser"].startswith("pychord ")


def test_import_options(tmp_path) -> None:
    """Other column names, no syntax or capo column, a key column, .gz, full vocabulary,
    relative keys and another length."""
    path = tmp_path / "mine.tsv.gz"
    lines = ["id\tprogression\ttonality", "a\tG,C,D,G\t", "b\tAm7,Dm,E7\tA minor", "c\tF,Bb,C\tD"]
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    out = tmp_path / "out"
    argv = [
        *["import", str(path), "--out", str(out), "--quiet", "--song-column", "id"],
        *["--chords-column", "progression", "--key-column", "tonality", "--separator", ","],
        *["--vocabulary", "full", "--length", "6", "--chord-key", "relative"],
    ]
    assert main(argv) == 0
    full = ChordVocabulary.load(out / "vocabulary.json")
    assert full.name == "full"
    _, rows = read_tsv(out / "chords.tsv")
    decoded = {song: [full.decode(int(i)) for i in c.split()] for song, _, c in rows}
    assert decoded["a"] == ["C:maj", "F:maj", "G:maj", "C:maj", "C:maj", "F:maj"]
    assert decoded["b"] == ["A:min7", "D:min", "E:7", "A:min7", "D:min", "E:7"]
    assert decoded["c"][:3] == ["D#:maj", "G#:maj", "A#:maj"]  # the given key D: F -> D#
    _, keys = read_tsv(out / "keys.tsv")
    assert keys == [
        ["a", "G:maj", "estimated", "5"],
        ["b", "A:min", "given", "0"],
        ["c", "D:maj", "given", "10"],
    ]
    assert json.loads((out / "summary.json").read_text())["chord_key"] == "relative"


def test_import_harte_default_syntax(tmp_path) -> None:
    path = tmp_path / "annotations.tsv"
    path.write_text("song\tchords\nx\tC:maj G:maj/3 A:min F:maj(9)\n")
    out = tmp_path / "out"
    assert main(["import", str(path), "--out", str(out), "--syntax", "harte", "--quiet"]) == 0
    _, rows = read_tsv(out / "chords.tsv")
    assert rows[0][1] == "4"
    assert [int(i) for i in rows[0][2].split()][:4] == ids("C:maj", "G:maj", "A:min", "F:maj")


def test_import_real_songs(tmp_path, shared_data) -> None:
    """A slice of the playlists x chords songs (symbol and Harte rows, capos)."""
    source = shared_data / "playlists-chords" / "songs.tsv.gz"
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        header, *rows = handle.read().splitlines()
    syntax = header.split("\t").index("syntax")
    capo = header.split("\t").index("capo")
    picked = [r for r in rows if r.split("\t")[syntax] == "harte"][:40]
    picked += [r for r in rows if r.split("\t")[capo] not in ("", "0")][:40]
    picked += rows[:120]
    picked = list(dict.fromkeys(picked))
    path = tmp_path / "slice.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join([header, *picked]) + "\n")
    out = tmp_path / "out"
    assert main(["import", str(path), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"] == len(picked)
    assert summary["songs"] + summary["failed"] == len(picked)
    assert summary["share_read"] > 0.99
    assert summary["by_syntax"]["harte"]["rows"] == 40 and summary["capo_rows"] == 40
    _, table = read_tsv(out / "chords.tsv")
    for _, changes, chords in table:
        values = [int(i) for i in chords.split()]
        assert int(changes) >= 1 and len(values) == 100 and 1 <= min(values) <= max(values) <= 24


def test_import_header_with_byte_order_mark(tmp_path) -> None:
    path = tmp_path / "excel.tsv"
    path.write_bytes("\ufeffsong\tchords\r\nx\tG C\r\n".encode())
    out = tmp_path / "out"
    assert main(["import", str(path), "--out", str(out), "--quiet"]) == 0
    assert read_tsv(out / "chords.tsv")[1][0][:2] == ["x", "2"]
