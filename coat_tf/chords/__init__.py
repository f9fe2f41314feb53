"""Chord progressions from audio: Chordino extraction, chord vocabularies, fixed-length id
sequences, and MFCC excerpts for the audio baselines.

Command line: ``python -m coat_tf.chords extract|mfcc --help``. The audio parts need the
``audio`` extra (chord-extractor, librosa, soundfile); they are imported only when used.
"""

from __future__ import annotations

from coat_tf.chords.extract import (
    AudioError,
    ChordSegment,
    ExtractionReport,
    ExtractorSettings,
    extract_file,
    extract_many,
)
from coat_tf.chords.mfcc import MfccReport, MfccSettings, mfcc_file, mfcc_many
from coat_tf.chords.sequence import (
    SEQUENCE_LENGTH,
    SequenceStats,
    chord_changes,
    fix_length,
    to_sequence,
)
from coat_tf.chords.vocabulary import ChordVocabulary

__all__ = [
    "SEQUENCE_LENGTH",
    "AudioError",
    "ChordSegment",
    "ChordVocabulary",
    "ExtractionReport",
    "ExtractorSettings",
    "MfccReport",
    "MfccSettings",
    "SequenceStats",
    "chord_changes",
    "extract_file",
    "extract_many",
    "fix_length",
    "mfcc_file",
    "mfcc_many",
    "to_sequence",
]
