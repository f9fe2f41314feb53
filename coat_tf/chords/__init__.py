"""Chord progressions from audio: Chordino extraction, chord vocabularies, fixed-length id
sequences, and MFCC excerpts for the audio baselines; and from chord sheets and annotations
(chord symbols read by pychord, Harte labels), with an optional key-relative transposition.

Command line: ``python -m coat_tf.chords extract|mfcc|import --help``. The audio parts need the
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
from coat_tf.chords.key import Key, estimate_key, key_relative
from coat_tf.chords.mfcc import MfccReport, MfccSettings, mfcc_file, mfcc_many
from coat_tf.chords.sequence import (
    SEQUENCE_LENGTH,
    SequenceStats,
    chord_changes,
    fix_length,
    label_changes,
    to_sequence,
)
from coat_tf.chords.symbols import UnreadableSymbol, symbol_to_harte
from coat_tf.chords.vocabulary import ChordVocabulary

__all__ = [
    "SEQUENCE_LENGTH",
    "AudioError",
    "ChordSegment",
    "ChordVocabulary",
    "ExtractionReport",
    "ExtractorSettings",
    "Key",
    "MfccReport",
    "MfccSettings",
    "SequenceStats",
    "UnreadableSymbol",
    "chord_changes",
    "estimate_key",
    "extract_file",
    "extract_many",
    "fix_length",
    "key_relative",
    "label_changes",
    "mfcc_file",
    "mfcc_many",
    "symbol_to_harte",
    "to_sequence",
]
