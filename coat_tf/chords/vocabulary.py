"""Chord vocabularies: normalise Chordino (or Harte) labels into a declared set of chord ids.

Two vocabularies are declared, both with the no-chord label ``N`` at id 0:

- ``majmin``: 12 roots x {maj, min} + N = 25 ids.
- ``full``: 12 roots x 17 qualities + N = 205 ids. Qualities (Harte shorthands): ``maj min dim
  aug maj7 min7 7 dim7 hdim7 minmaj7 maj6 min6 9 maj9 min9 sus2 sus4``.

Canonical labels are Harte-style ``ROOT:QUALITY`` (``C#:min``, ``A#:7``), readable by mir_eval.

Normalisation rules, in order:

1. ``N`` (no chord) and ``X`` (Harte's "chord unknown") map to ``N``.
2. The root is a letter ``A``-``G`` with any number of ``#`` / ``b`` signs. Enharmonic spellings
   are unified to the sharp name of their pitch class: ``Db``, ``C#`` and ``B##`` all give ``C#``;
   ``Cb`` gives ``B``; ``E#`` gives ``F``.
3. A bass note is dropped: ``Bb/D`` -> ``A#:maj``; ``C:maj/3`` -> ``C:maj``. The bass itself must
   still be a valid note name (Chordino) or interval (Harte).
4. The quality is read from Chordino's shorthand (``m``, ``7``, ``maj7``, ``m7b5``, ``dim7``,
   ``6``, ``m6``, ``aug``, ...) or Harte's (``min``, ``hdim7``, ``sus4``, ``(1,b3,5)``, ...).
   Added notes in parentheses (``C:maj(9)``, ``C7(#9)``) are dropped. Extended chords fold to
   their seventh: ``11`` and ``13`` -> ``7``, ``min11`` -> ``min7``, ``maj13`` -> ``maj7``; a
   ``7sus4`` is a ``sus4``. Power chords (``C5``, ``C:5``, ``C:1``) have no third and are taken
   as major.
5. ``majmin`` keeps the third only: qualities with a minor third (``min``, ``min7``, ``min6``,
   ``min9``, ``minmaj7``, ``dim``, ``dim7``, ``hdim7``) -> ``min``; all others (including
   ``aug`` and the third-less ``sus2``/``sus4``/power chords) -> ``maj``.

A label that fits none of this (``H7``, ``Cfoo``, empty) raises ``ValueError`` naming it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from coat_tf.fileio import atomic_write_text

VOCABULARY_NAMES = ("majmin", "full")

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_LETTER_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

FULL_QUALITIES = (
    "maj",
    "min",
    "dim",
    "aug",
    "maj7",
    "min7",
    "7",
    "dim7",
    "hdim7",
    "minmaj7",
    "maj6",
    "min6",
    "9",
    "maj9",
    "min9",
    "sus2",
    "sus4",
)
MINOR_THIRD_QUALITIES = frozenset(
    {"min", "min7", "min6", "min9", "minmaj7", "dim", "dim7", "hdim7"}
)

# Chordino-style and Harte shorthands -> a quality of FULL_QUALITIES.
_QUALITY_ALIASES = {
    "": "maj",
    "maj": "maj",
    "M": "maj",
    "m": "min",
    "min": "min",
    "-": "min",
    "dim": "dim",
    "o": "dim",
    "aug": "aug",
    "+": "aug",
    "maj7": "maj7",
    "M7": "maj7",
    "7": "7",
    "dom7": "7",
    "m7": "min7",
    "min7": "min7",
    "-7": "min7",
    "dim7": "dim7",
    "o7": "dim7",
    "m7b5": "hdim7",
    "min7b5": "hdim7",
    "hdim7": "hdim7",
    "hdim": "hdim7",
    "ø": "hdim7",
    "ø7": "hdim7",
    "mmaj7": "minmaj7",
    "mM7": "minmaj7",
    "minmaj7": "minmaj7",
    "6": "maj6",
    "maj6": "maj6",
    "m6": "min6",
    "min6": "min6",
    "9": "9",
    "maj9": "maj9",
    "M9": "maj9",
    "m9": "min9",
    "min9": "min9",
    "sus2": "sus2",
    "sus4": "sus4",
    "sus": "sus4",
    "7sus4": "sus4",
    "7sus": "sus4",
    "11": "7",
    "13": "7",
    "maj11": "maj7",
    "maj13": "maj7",
    "m11": "min7",
    "min11": "min7",
    "m13": "min7",
    "min13": "min7",
    "5": "maj",
    "1": "maj",
    "aug7": "7",
    "7#5": "7",
    "add9": "maj",
    "madd9": "min",
}

_ROOT_RE = re.compile(r"^([A-G])([#b]*)(.*)$")
_INTERVAL_RE = re.compile(r"^\*?[#b]*(1[0-3]|[1-9])$")
_NOTE_RE = re.compile(r"^[A-G][#b]*$")


def pitch_class(note: str) -> int:
    """Pitch class 0..11 of a note name such as ``C``, ``Db``, ``F##``, ``Cb``."""
    if not _NOTE_RE.match(note):
        raise ValueError(f"not a note name: {note!r}")
    return (_LETTER_PITCH[note[0]] + note.count("#") - note.count("b")) % 12


def transpose_label(label: str, semitones: int) -> str:
    """Harte ``label`` with its root moved up ``semitones`` (spelled with sharps); the rest is
    kept, the bass being an interval above the root: ``transpose_label("A:min7/b7", 2) ==
    "B:min7/b7"``. ``N`` and ``X`` stay as they are.

    Raises:
        ValueError: the label has no root note A-G.
    """
    text = label.strip()
    if text in ("N", "X"):
        return text
    match = _ROOT_RE.match(text)
    if not match:
        raise ValueError(f"unrecognised chord label {label!r}: no root note A-G")
    letter, accidentals, rest = match.groups()
    return PITCH_NAMES[(pitch_class(letter + accidentals) + semitones) % 12] + rest


def _quality_from_intervals(intervals: str) -> str:
    """Quality of a Harte interval list such as ``1,b3,5`` (by its third, then its seventh)."""
    items = [item.strip() for item in intervals.split(",") if item.strip()]
    for item in items:
        if not _INTERVAL_RE.match(item):
            raise ValueError(f"bad interval {item!r}")
    degrees = {item.lstrip("*") for item in items if not item.startswith("*")}
    if "b3" in degrees:
        if "b5" in degrees:
            return "dim7" if "bb7" in degrees else "hdim7" if "b7" in degrees else "dim"
        return "min7" if "b7" in degrees else "minmaj7" if "7" in degrees else "min"
    if "3" in degrees:
        if "#5" in degrees and "b7" not in degrees:
            return "aug"
        return "7" if "b7" in degrees else "maj7" if "7" in degrees else "maj"
    if "4" in degrees:
        return "sus4"
    if "2" in degrees:
        return "sus2"
    return "maj"


def parse_label(label: str) -> tuple[int, str] | None:
    """Split a chord label into (root pitch class, full quality); ``None`` for no-chord.

    Raises:
        ValueError: the label is not a chord label this module can read.
    """
    text = label.strip()
    if text in ("N", "X", "N.C.", "NC"):
        return None
    match = _ROOT_RE.match(text)
    if not match:
        raise ValueError(f"unrecognised chord label {label!r}: no root note A-G")
    letter, accidentals, rest = match.groups()
    root = pitch_class(letter + accidentals)
    if rest.startswith(":"):
        rest = rest[1:]
    body, slash, bass = rest.partition("/")
    if slash and not (_INTERVAL_RE.match(bass) or _NOTE_RE.match(bass)):
        raise ValueError(f"unrecognised chord label {label!r}: bad bass {bass!r}")
    shorthand, paren, added = body.partition("(")
    if paren:
        if not added.endswith(")"):
            raise ValueError(f"unrecognised chord label {label!r}: unclosed '('")
        if not shorthand:
            try:
                return root, _quality_from_intervals(added[:-1])
            except ValueError as error:
                raise ValueError(f"unrecognised chord label {label!r}: {error}") from None
    if shorthand not in _QUALITY_ALIASES:
        raise ValueError(f"unrecognised chord label {label!r}: unknown quality {shorthand!r}")
    return root, _QUALITY_ALIASES[shorthand]


class ChordVocabulary:
    """A declared set of canonical chord labels; ``N`` (no chord) is always id 0.

    Args:
        name: ``"majmin"`` or ``"full"``; it selects the normalisation rules.
        labels: id -> canonical label. Must start with ``N`` and hold every label the rules
            can produce for ``name`` (``from_name`` builds the standard list).
    """

    NO_CHORD = "N"

    def __init__(self, name: str, labels: list[str]) -> None:
        if name not in VOCABULARY_NAMES:
            raise ValueError(f"vocabulary name must be one of {VOCABULARY_NAMES}, got {name!r}")
        if not labels or labels[0] != self.NO_CHORD:
            raise ValueError(f"vocabulary {name!r} must have {self.NO_CHORD!r} at id 0")
        if len(set(labels)) != len(labels):
            raise ValueError(f"vocabulary {name!r} has duplicate labels")
        missing = set(_standard_labels(name)) - set(labels)
        if missing:
            raise ValueError(f"vocabulary {name!r} lacks labels {sorted(missing)[:5]}...")
        self.name = name
        self.labels = list(labels)
        self._ids = {label: index for index, label in enumerate(self.labels)}

    @classmethod
    def from_name(cls, name: str) -> ChordVocabulary:
        """The standard ``majmin`` (25 ids) or ``full`` (205 ids) vocabulary."""
        if name not in VOCABULARY_NAMES:
            raise ValueError(f"vocabulary name must be one of {VOCABULARY_NAMES}, got {name!r}")
        return cls(name, _standard_labels(name))

    def normalize(self, label: str) -> str:
        """Chordino/Harte label -> this vocabulary's canonical label (see the module rules)."""
        parsed = parse_label(label)
        if parsed is None:
            return self.NO_CHORD
        root, quality = parsed
        if self.name == "majmin":
            quality = "min" if quality in MINOR_THIRD_QUALITIES else "maj"
        return f"{PITCH_NAMES[root]}:{quality}"

    def encode(self, label: str) -> int:
        """Normalise ``label`` and return its id."""
        return self._ids[self.normalize(label)]

    def decode(self, index: int) -> str:
        """The canonical label of id ``index``."""
        return self.labels[index]

    def __len__(self) -> int:
        return len(self.labels)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChordVocabulary):
            return NotImplemented
        return self.name == other.name and self.labels == other.labels

    def __repr__(self) -> str:
        return f"ChordVocabulary(name={self.name!r}, size={len(self)})"

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "labels": self.labels}, indent=1) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON ``{"name": ..., "labels": [...]}`` (atomically)."""
        atomic_write_text(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> ChordVocabulary:
        """Read a file written by :meth:`save`; errors name the file and the problem."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["name"], list(data["labels"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a chord vocabulary file ({error})") from error


def _standard_labels(name: str) -> list[str]:
    qualities = ("maj", "min") if name == "majmin" else FULL_QUALITIES
    return [ChordVocabulary.NO_CHORD] + [
        f"{root}:{quality}" for root in PITCH_NAMES for quality in qualities
    ]
