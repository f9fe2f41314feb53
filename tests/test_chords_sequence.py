"""Timed chords -> fixed-length chord id sequences."""

from __future__ import annotations

import numpy as np
import pytest

from coat_tf.chords.extract import ChordSegment
from coat_tf.chords.sequence import (
    SEQUENCE_LENGTH,
    SequenceStats,
    chord_changes,
    fix_length,
    to_sequence,
)
from coat_tf.chords.vocabulary import ChordVocabulary


def timed(*labels: str) -> list[ChordSegment]:
    return [ChordSegment(label, float(i), float(i + 1)) for i, label in enumerate(labels)]


@pytest.fixture
def majmin() -> ChordVocabulary:
    return ChordVocabulary.from_name("majmin")


def test_changes_merge_repeats_and_drop_no_chord(majmin: ChordVocabulary) -> None:
    segments = timed("N", "C", "C7", "N", "C", "Am", "X", "Am7", "F", "Bb/D", "A#")
    ids = chord_changes(segments, majmin)
    assert [majmin.labels[i] for i in ids] == ["C:maj", "A:min", "F:maj", "A#:maj"]


def test_short_sequence_repeats_in_order(majmin: ChordVocabulary) -> None:
    sequence = to_sequence(timed("C", "F", "G"), majmin)
    c, f, g = (majmin.encode(x) for x in ("C", "F", "G"))
    assert sequence.dtype == np.int32
    assert sequence.shape == (SEQUENCE_LENGTH,)
    assert sequence[:7].tolist() == [c, f, g, c, f, g, c]
    assert sequence.tolist() == ([c, f, g] * 34)[:100]


def test_exact_length_unchanged() -> None:
    changes = list(range(1, 101))
    assert fix_length(changes).tolist() == changes


def test_long_sequence_keeps_first_changes(majmin: ChordVocabulary) -> None:
    labels = ["C", "G"] * 60 + ["Am"] * 3  # 120 changes then a repeated chord
    sequence = to_sequence(timed(*labels), majmin)
    assert sequence.shape == (100,)
    assert sequence.tolist() == [majmin.encode("C"), majmin.encode("G")] * 50
    assert majmin.encode("Am") not in sequence


def test_song_without_chords_is_all_no_chord(majmin: ChordVocabulary) -> None:
    for segments in ([], timed("N", "X", "N")):
        sequence = to_sequence(segments, majmin)
        assert sequence.shape == (100,)
        assert not sequence.any()


def test_other_lengths_and_bad_length() -> None:
    assert fix_length([4, 5], length=5).tolist() == [4, 5, 4, 5, 4]
    assert fix_length([1, 2, 3], length=2).tolist() == [1, 2]
    with pytest.raises(ValueError, match="length"):
        fix_length([1], length=0)


def test_bad_label_raises(majmin: ChordVocabulary) -> None:
    with pytest.raises(ValueError, match="'Q7'"):
        to_sequence(timed("C", "Q7"), majmin)


def test_stats_count_cases() -> None:
    stats = SequenceStats()
    for changes in ([], [1, 2], list(range(1, 101)), list(range(1, 121)) + [0], []):
        stats.add(changes)
    assert (stats.songs, stats.no_chord, stats.repeated, stats.truncated) == (5, 2, 1, 1)
