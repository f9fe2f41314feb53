"""Chord label normalisation and vocabulary files."""

from __future__ import annotations

import json

import pytest

from coat_tf.chords.vocabulary import PITCH_NAMES, ChordVocabulary, parse_label


@pytest.fixture
def majmin() -> ChordVocabulary:
    return ChordVocabulary.from_name("majmin")


@pytest.fixture
def full() -> ChordVocabulary:
    return ChordVocabulary.from_name("full")


def test_sizes_and_no_chord_first(majmin: ChordVocabulary, full: ChordVocabulary) -> None:
    assert len(majmin) == 25
    assert len(full) == 1 + 12 * 17
    for vocabulary in (majmin, full):
        assert vocabulary.labels[0] == ChordVocabulary.NO_CHORD == "N"
        assert vocabulary.encode("N") == 0
        assert len(set(vocabulary.labels)) == len(vocabulary)
    assert majmin.labels[1:3] == ["C:maj", "C:min"]


@pytest.mark.parametrize(
    ("label", "majmin_label", "full_label"),
    [
        # Chordino shorthands, with and without a bass note
        ("C", "C:maj", "C:maj"),
        ("C#m7", "C#:min", "C#:min7"),
        ("Bb/D", "A#:maj", "A#:maj"),
        ("G7/B", "G:maj", "G:7"),
        ("F#m7b5/E", "F#:min", "F#:hdim7"),
        ("Eb6", "D#:maj", "D#:maj6"),
        ("Abm6", "G#:min", "G#:min6"),
        ("Edim", "E:min", "E:dim"),
        ("Bdim7", "B:min", "B:dim7"),
        ("Caug", "C:maj", "C:aug"),
        ("Dmaj7", "D:maj", "D:maj7"),
        ("A/B", "A:maj", "A:maj"),
        # enharmonic spellings
        ("Db", "C#:maj", "C#:maj"),
        ("Cb", "B:maj", "B:maj"),
        ("E#m", "F:min", "F:min"),
        ("B##", "C#:maj", "C#:maj"),
        ("Gbb7", "F:maj", "F:7"),
        # Harte syntax
        ("C:min7/b3", "C:min", "C:min7"),
        ("Db:hdim7", "C#:min", "C#:hdim7"),
        ("G:sus4(b7)", "G:maj", "G:sus4"),
        ("A:maj(9)", "A:maj", "A:maj"),
        ("E:(1,b3,5)", "E:min", "E:min"),
        ("E:(1,3,5,b7)", "E:maj", "E:7"),
        ("F:13", "F:maj", "F:7"),
        ("F:min11", "F:min", "F:min7"),
        ("D:5", "D:maj", "D:maj"),
        ("D:1/1", "D:maj", "D:maj"),
        # no chord and unknown chord
        ("N", "N", "N"),
        ("X", "N", "N"),
    ],
)
def test_normalize(
    majmin: ChordVocabulary, full: ChordVocabulary, label: str, majmin_label: str, full_label: str
) -> None:
    assert majmin.normalize(label) == majmin_label
    assert full.normalize(label) == full_label
    assert majmin.labels[majmin.encode(label)] == majmin_label
    assert full.labels[full.encode(label)] == full_label


def test_enharmonics_share_an_id(full: ChordVocabulary) -> None:
    assert full.encode("Db:min7") == full.encode("C#m7") == full.encode("B##:min7")
    assert full.encode("Bb7") == full.encode("A#:7") != full.encode("A#:maj7")


@pytest.mark.parametrize("label", ["", "H7", "c", "Cfoo", "C/", "C/H", "C:(1,x)", "C:maj(9", "7"])
def test_garbage_label_raises_naming_it(majmin: ChordVocabulary, label: str) -> None:
    with pytest.raises(ValueError, match="unrecognised chord label"):
        majmin.encode(label)


def test_every_root_is_reached(majmin: ChordVocabulary) -> None:
    for pitch, name in enumerate(PITCH_NAMES):
        assert parse_label(name) == (pitch, "maj")
        assert majmin.normalize(name + "m") == f"{name}:min"


def test_file_round_trip(tmp_path, full: ChordVocabulary) -> None:
    path = tmp_path / "sub" / "vocabulary.json"
    full.save(path)
    loaded = ChordVocabulary.load(path)
    assert loaded == full
    assert loaded.name == "full"
    assert loaded.encode("Bb/D") == full.encode("Bb/D")
    assert json.loads(path.read_text())["labels"][0] == "N"
    assert not list(path.parent.glob(".*"))  # no temporary file left


def test_load_bad_file_names_it(tmp_path) -> None:
    path = tmp_path / "vocabulary.json"
    path.write_text('{"name": "majmin", "labels": ["C:maj", "N"]}')
    with pytest.raises(ValueError, match="vocabulary.json"):
        ChordVocabulary.load(path)
    path.write_text("not json")
    with pytest.raises(ValueError, match="not a chord vocabulary file"):
        ChordVocabulary.load(path)


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match="'jazz'"):
        ChordVocabulary.from_name("jazz")


def test_billboard_labels_all_parse(shared_data, full: ChordVocabulary) -> None:
    """Every label of the McGill Billboard annotations maps into the full vocabulary."""
    labels = set()
    for path in sorted((shared_data / "billboard" / "labs").glob("*.full.lab"))[:200]:
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3:
                labels.add(fields[2])
    assert len(labels) > 100
    for label in labels:
        assert full.normalize(label) in full.labels
