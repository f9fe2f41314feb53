"""Key estimation and key-relative chords (:mod:`coat_tf.chords.key`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coat_tf.chords.extract import ChordSegment
from coat_tf.chords.key import (
    Key,
    estimate_key,
    key_relative,
    key_scores,
    parse_key,
    relative_shift,
    tone_histogram,
)
from coat_tf.chords.sequence import keyed_segments
from coat_tf.chords.vocabulary import parse_label


def chords(*labels: str) -> list[tuple[int, str]]:
    return [parse_label(label) for label in labels]


def test_one_four_five_one_in_g_is_g_major() -> None:
    assert estimate_key(chords("G:maj", "C:maj", "D:maj", "G:maj")) == Key(7, "major")


def test_one_four_five_in_a_minor_is_a_minor() -> None:
    assert estimate_key(chords("A:min", "D:min", "E:min")) == Key(9, "minor")
    assert estimate_key(chords("A:min", "D:min", "E:7", "A:min")) == Key(9, "minor")


def test_more_keys() -> None:
    assert str(estimate_key(chords("C:maj", "A:min", "F:maj", "G:7"))) == "C:maj"
    assert str(estimate_key(chords("E:min", "C:maj", "G:maj", "D:maj", "E:min", "E:min"))) in (
        "E:min",
        "G:maj",
    )
    assert str(estimate_key(chords("F#:min", "D:maj", "A:maj", "E:maj", "F#:min"))) == "F#:min"
    assert estimate_key([]) is None


def test_scores_are_correlations() -> None:
    histogram = tone_histogram(chords("C:maj"))
    assert histogram.tolist() == [1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0]
    scores = key_scores(histogram)
    assert scores.shape == (2, 12) and np.all(np.abs(scores) <= 1)
    assert not key_scores(np.ones(12)).any()  # a flat histogram says nothing


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("G", Key(7, "major")),
        ("Em", Key(4, "minor")),
        ("E minor", Key(4, "minor")),
        ("A:min", Key(9, "minor")),
        ("Bb major", Key(10, "major")),
        ("F#:maj", Key(6, "major")),
    ],
)
def test_parse_key(text: str, key: Key) -> None:
    assert parse_key(text) == key


@pytest.mark.parametrize("text", ["", "H", "C dorian", "x2"])
def test_parse_bad_key(text: str) -> None:
    with pytest.raises(ValueError, match="not a key"):
        parse_key(text)


def test_relative_shift() -> None:
    assert relative_shift(Key(7, "major")) == 5  # G -> C
    assert relative_shift(Key(4, "minor")) == 5  # E minor -> A minor
    assert relative_shift(Key(9, "minor")) == 0


def test_key_relative_labels() -> None:
    moved, key = key_relative(["G:maj", "C:maj/3", "N", "D:7", "G:maj"])
    assert key == Key(7, "major")
    assert moved == ["C:maj", "F:maj", "N", "G:7", "C:maj"]
    moved, key = key_relative(["G:maj", "C:maj"], Key(4, "minor"))  # a given key wins
    assert moved == ["C:maj", "F:maj"] and key == Key(4, "minor")
    assert key_relative(["N"]) == (["N"], None)


def test_extracted_segmentskeyed_segments() -> None:
    segments = [ChordSegment(label, i, i + 1.0) for i, label in enumerate(["Am", "Dm", "E7"])]
    assert keyed_segments(segments, "absolute") == (segments, None)
    moved, key = keyed_segments(segments, "relative")
    assert key == Key(9, "minor")
    assert [s.label for s in moved] == ["A:min", "D:min", "E:7"]
    assert [s.start for s in moved] == [0, 1, 2]
    moved, key = keyed_segments([ChordSegment("Em", 0, 1), ChordSegment("Am", 1, 2)], "relative")
    assert key == Key(4, "minor") and [s.label for s in moved] == ["A:min", "D:min"]
    with pytest.raises(ValueError, match="chord key"):
        keyed_segments(segments, "sideways")


def test_extract_relative_keys(tmp_path) -> None:
    """``chords extract --chord-key relative`` records each song's key in ``keys.tsv``."""
    from coat_tf.chords.cli import main
    from tests.test_chords_cli import read_tsv
    from tests.test_chords_extract import write_audio

    write_audio(tmp_path / "music" / "a.wav")  # C G Am F: C major, moved by 0
    out = tmp_path / "out"
    argv = ["extract", str(tmp_path / "music"), "--out", str(out), "--workers", "1", "--quiet"]
    assert main([*argv, "--chord-key", "relative"]) == 0
    assert read_tsv(out / "keys.tsv")[1] == [["a.wav", "C:maj", "estimated", "0"]]
    assert json.loads((out / "summary.json").read_text())["chord_key"] == "relative"
