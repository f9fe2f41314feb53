"""Timed chord segments -> a fixed-length sequence of chord ids (the model's chord input).

A progression is the sequence of chord *changes*, so:

1. Every segment's label is normalised with the vocabulary (``Bb/D`` and ``Bb7`` are both
   ``A#:maj`` in ``majmin``).
2. No-chord (``N``) segments are dropped: they are silence, speech or noise between chords, not
   part of the progression. A chord that returns after a stretch of ``N`` (``C N C``) is the
   same chord, not a change.
3. Consecutive equal labels are merged (after steps 1 and 2), leaving only changes.

The result, ``changes``, is then fixed at ``length`` ids (100, as in the paper):

- shorter: repeated in order until it is ``length`` long (``C F G`` -> ``C F G C F G C ...``);
- longer ("truncated"): the first ``length`` changes are kept. They are a run of consecutive
  changes, so neighbouring positions stay neighbouring chords (which even sampling across the
  song would break), and popular songs state their verse and chorus progressions well within
  the first 100 changes;
- empty ("no-chord song": Chordino found no chord at all, e.g. a spoken-word or percussion
  track): ``length`` copies of ``N`` (id 0). Such songs are counted by :class:`SequenceStats`
  and by the CLI's summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from coat_tf.chords.extract import ChordSegment
from coat_tf.chords.key import Key, key_relative
from coat_tf.chords.vocabulary import ChordVocabulary

SEQUENCE_LENGTH = 100


def chord_changes(segments: Iterable[ChordSegment], vocabulary: ChordVocabulary) -> list[int]:
    """The ids of a song's chord changes: normalised, ``N`` dropped, repeats merged.

    Raises:
        ValueError: a label the vocabulary cannot read (the message names it).
    """
    return label_changes((segment.label for segment in segments), vocabulary)


def label_changes(labels: Iterable[str], vocabulary: ChordVocabulary) -> list[int]:
    """:func:`chord_changes` of untimed labels in order (a chord sheet's chords).

    Raises:
        ValueError: a label the vocabulary cannot read (the message names it).
    """
    changes: list[int] = []
    for label in labels:
        index = vocabulary.encode(label)
        if index == 0:
            continue
        if not changes or changes[-1] != index:
            changes.append(index)
    return changes


def keyed_segments(
    segments: list[ChordSegment], chord_key: str = "absolute"
) -> tuple[list[ChordSegment], Key | None]:
    """``(segments, key)``: as they are for ``absolute`` (key ``None``); for ``relative``,
    moved to the common tonic by :func:`coat_tf.chords.key.key_relative`, times kept (key
    ``None`` without chords).

    Raises:
        ValueError: an unknown ``chord_key``, or a label the vocabulary cannot read.
    """
    if chord_key == "absolute":
        return segments, None
    if chord_key != "relative":
        raise ValueError(f"chord key must be 'absolute' or 'relative', got {chord_key!r}")
    labels, key = key_relative([segment.label for segment in segments])
    moved = [
        ChordSegment(label, segment.start, segment.end)
        for label, segment in zip(labels, segments, strict=True)
    ]
    return moved, key


def fix_length(changes: list[int], length: int = SEQUENCE_LENGTH) -> np.ndarray:
    """Repeat (short), cut (long) or fill with ``N`` (empty) to exactly ``length`` ids.

    Returns:
        int32 array ``[length]``.
    """
    if length <= 0:
        raise ValueError(f"length must be positive, got {length}")
    if not changes:
        return np.zeros(length, dtype=np.int32)
    repeats = -(-length // len(changes))  # ceil
    return np.tile(np.asarray(changes, dtype=np.int32), repeats)[:length]


def to_sequence(
    segments: list[ChordSegment], vocabulary: ChordVocabulary, length: int = SEQUENCE_LENGTH
) -> np.ndarray:
    """A song's chord sequence, int32 ``[length]`` (see the module rules)."""
    return fix_length(chord_changes(segments, vocabulary), length)


@dataclass
class SequenceStats:
    """Counts over songs turned into sequences.

    Attributes:
        songs: songs seen.
        no_chord: songs without a single chord (their sequence is all ``N``).
        truncated: songs with more than ``length`` changes (cut to the first ``length``).
        repeated: songs with 1 to ``length - 1`` changes (repeated to fill).
    """

    songs: int = 0
    no_chord: int = 0
    truncated: int = 0
    repeated: int = 0

    def add(self, changes: list[int], length: int = SEQUENCE_LENGTH) -> None:
        self.songs += 1
        if not changes:
            self.no_chord += 1
        elif len(changes) > length:
            self.truncated += 1
        elif len(changes) < length:
            self.repeated += 1
