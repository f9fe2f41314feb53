"""A song's key from its chords, and the shift that moves it to a common tonic.

Estimation (Krumhansl-Schmuckler, over the chords' tones rather than over audio frames):

1. The chord-tone histogram ``h[p]``, ``p = 0..11``: every chord of the song (each occurrence
   counts, so a chord played eight times weighs eight times) adds 1 to the pitch class of its
   root, its third and its fifth (:func:`chord_tones`; a power chord adds its root and fifth,
   a suspended chord its second or fourth instead of the third).
2. For each of the 24 keys ``(t, mode)`` the score is Pearson's correlation between ``h`` and
   the Krumhansl-Kessler profile of ``mode`` rotated to tonic ``t``:

       score(t, mode) = corr(h, [K_mode[(p - t) mod 12] for p in 0..11])

   with ``K_major`` and ``K_minor`` the probe-tone ratings of Krumhansl & Kessler (1982),
   :data:`MAJOR_PROFILE` and :data:`MINOR_PROFILE`.
3. The key is the argmax (ties: major before minor, then the lower tonic).

The thirds matter: over the roots alone, ``Am Dm Em`` (i-iv-v in A minor) scores A major
above A minor, since both keys' profiles rate the same three roots; the minor thirds C, F and G
decide for A minor.

``relative`` keys transpose a song so that its tonic becomes C (major keys) or A (minor
keys), the relative major and minor sharing one key signature: :func:`relative_shift`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from coat_tf.chords.vocabulary import (
    MINOR_THIRD_QUALITIES,
    PITCH_NAMES,
    parse_label,
    pitch_class,
)

CHORD_KEYS = ("absolute", "relative")

MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MODES = ("major", "minor")

#: The tonic each mode is moved to by a relative transposition: C major, A minor.
RELATIVE_TONIC = {"major": 0, "minor": 9}

_KEY_RE = re.compile(
    r"^\s*([A-G][#b]?)\s*(?::?\s*(maj|major|min|minor|m)?)\s*$", flags=re.IGNORECASE
)


@dataclass(frozen=True)
class Key:
    """A key: ``tonic`` pitch class 0..11 and ``mode`` (``major`` or ``minor``)."""

    tonic: int
    mode: str

    def __str__(self) -> str:
        return f"{PITCH_NAMES[self.tonic]}:{'maj' if self.mode == 'major' else 'min'}"


def chord_tones(root: int, quality: str) -> tuple[int, ...]:
    """Pitch classes of the triad of a chord given by its root and full-vocabulary quality."""
    if quality == "sus2":
        return (root, (root + 2) % 12, (root + 7) % 12)
    if quality == "sus4":
        return (root, (root + 5) % 12, (root + 7) % 12)
    third = 3 if quality in MINOR_THIRD_QUALITIES else 4
    fifth = 6 if quality in ("dim", "dim7", "hdim7") else 8 if quality == "aug" else 7
    return (root, (root + third) % 12, (root + fifth) % 12)


def tone_histogram(chords: Iterable[tuple[int, str]]) -> np.ndarray:
    """``h[p]``: chords (``(root, quality)`` occurrences) holding pitch class ``p``."""
    histogram = np.zeros(12)
    for root, quality in chords:
        for tone in chord_tones(root, quality):
            histogram[tone] += 1.0
    return histogram


def key_scores(histogram: np.ndarray) -> np.ndarray:
    """Correlations ``[2, 12]``: row 0 major, row 1 minor, column the tonic."""
    scores = np.zeros((2, 12))
    if np.ptp(histogram) == 0:
        return scores
    for row, profile in enumerate((MAJOR_PROFILE, MINOR_PROFILE)):
        for tonic in range(12):
            scores[row, tonic] = np.corrcoef(histogram, np.roll(profile, tonic))[0, 1]
    return scores


def estimate_key(chords: Iterable[tuple[int, str]]) -> Key | None:
    """The most likely key of a song's chords (``(root, quality)``, one per occurrence);
    ``None`` without chords."""
    histogram = tone_histogram(chords)
    if not histogram.any():
        return None
    scores = key_scores(histogram)
    row, tonic = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return Key(int(tonic), MODES[int(row)])


def parse_key(text: str) -> Key:
    """A key as written in a table: ``G``, ``Em``, ``E minor``, ``A:min``, ``Bb major``.

    Raises:
        ValueError: not a key (the message quotes it).
    """
    match = _KEY_RE.match(text)
    if not match:
        raise ValueError(f"not a key: {text!r} (expected e.g. 'G', 'Em', 'A:min', 'Bb major')")
    note, mode = match.groups()
    note = note[0].upper() + note[1:]
    minor = mode is not None and mode.lower() in ("min", "minor", "m")
    return Key(pitch_class(note), "minor" if minor else "major")


def relative_shift(key: Key) -> int:
    """Semitones (0..11) that move ``key``'s tonic to C (major) or A (minor)."""
    return (RELATIVE_TONIC[key.mode] - key.tonic) % 12


def key_relative(labels: list[str], key: Key | None = None) -> tuple[list[str], Key | None]:
    """Chord labels (Harte or Chordino) moved so that the song's key has the common tonic.

    The key is ``key`` where given, else estimated from the labels (:func:`estimate_key`).
    Each label becomes ``ROOT:QUALITY`` of the full vocabulary (the bass, which both
    vocabularies drop, is left out; no-chord labels become ``N``). Without any chord the labels
    come back unchanged, with key ``None``.

    Raises:
        ValueError: a label the vocabulary cannot read (the message names it).
    """
    parsed = [parse_label(label) for label in labels]
    chords = [chord for chord in parsed if chord is not None]
    key = key or estimate_key(chords)
    if key is None:
        return list(labels), None
    shift = relative_shift(key)
    moved = [
        "N" if chord is None else f"{PITCH_NAMES[(chord[0] + shift) % 12]}:{chord[1]}"
        for chord in parsed
    ]
    return moved, key
