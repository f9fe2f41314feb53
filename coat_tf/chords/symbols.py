"""Conventional chord symbols (``Am7``, ``D/F#``, ``Cadd9``, ``E5``, ``F#m7b5``, ``N.C.``) to
Harte labels (``A:min7``, ``D:maj/3``, ``C:maj(9)``, ``E:5``, ``F#:hdim7``, no chord).

The symbols are parsed by pychord (``bench/chord_symbols.py`` measured it against music21's
chord symbols on the Ultimate-Guitar sheets of the playlists x chords set: it reads more of
their tokens, and reads them right). pychord's table of qualities is extended by
:data:`EXTRA_QUALITIES`, spellings that chord sheets use and pychord does not know (``C+``,
``Cadd2``, ``Dmin7``, ``A7sus``). Nothing else is guessed: a token pychord cannot read (``x2``,
``|``, ``A0``, a tuning line, a word of lyrics) raises :class:`UnreadableSymbol`, and is
counted by the caller, never mapped to a chord.

A symbol becomes ``ROOT:QUALITY[/BASS]``:

- ``ROOT`` is the sounding root: the written root moved ``capo`` semitones up (a capo on fret
  ``n`` makes every shape sound ``n`` semitones higher), spelled with sharps (``A#``, not
  ``Bb``; the vocabularies unify spellings anyway);
- ``QUALITY`` is the Harte shorthand with exactly the chord's intervals where there is one
  (``maj``, ``min7``, ``hdim7``, ``sus4``, ``5`` for a power chord, ``11``, ``13``); otherwise
  the largest shorthand the chord contains, with the other intervals added in parentheses
  (``Cadd9`` -> ``maj(9)``, ``A7sus4`` -> ``sus4(b7)``, ``D7#9`` -> ``7(#9)``); otherwise the
  bare interval list (``(1,3)``);
- ``BASS``, for a slash chord whose bass is not the root, is the bass's interval above the root
  (``D/F#`` -> ``D:maj/3``, ``C/B`` -> ``C:maj/7``).

From there :class:`~coat_tf.chords.vocabulary.ChordVocabulary` maps the label exactly as it maps
an audio chord.
"""

from __future__ import annotations

import functools

from coat_tf.chords.vocabulary import PITCH_NAMES, pitch_class

#: Tokens that mean "no chord here" (a rest, a spoken part). They are read, as no chord.
NO_CHORD_SYMBOLS = frozenset({"N.C.", "N.C", "NC", "N/C", "n.c.", "N"})

#: Spellings of chord sheets that pychord lacks: quality -> intervals (Harte degrees).
EXTRA_QUALITIES: dict[str, tuple[str, ...]] = {
    "+": ("1", "3", "#5"),
    "aug5": ("1", "3", "#5"),
    "+5": ("1", "3", "#5"),
    "M": ("1", "3", "5"),
    "min7": ("1", "b3", "5", "b7"),
    "min9": ("1", "b3", "5", "b7", "9"),
    "maj6": ("1", "3", "5", "6"),
    "maj11": ("1", "3", "5", "7", "9", "11"),
    "m13": ("1", "b3", "5", "b7", "9", "11", "13"),
    "aug7": ("1", "3", "#5", "b7"),
    "+7": ("1", "3", "#5", "b7"),
    "add2": ("1", "2", "3", "5"),
    "madd2": ("1", "2", "b3", "5"),
    "m2": ("1", "2", "b3", "5"),
    "madd6": ("1", "b3", "5", "6"),
    "add6": ("1", "3", "5", "6"),
    "madd11": ("1", "b3", "5", "11"),
    "6add9": ("1", "3", "5", "6", "9"),
    "7sus": ("1", "4", "5", "b7"),
    "sus7": ("1", "4", "5", "b7"),
    "7sus2": ("1", "2", "5", "b7"),
    "6sus2": ("1", "2", "5", "6"),
    "add#11": ("1", "3", "5", "#11"),
}

#: Harte shorthands (and the mir_eval / vocabulary extensions ``5``, ``11``, ``13``) by their
#: intervals in semitones above the root.
HARTE_SHORTHANDS: dict[frozenset[int], str] = {
    frozenset(intervals): name
    for name, intervals in (
        ("maj", (0, 4, 7)),
        ("min", (0, 3, 7)),
        ("dim", (0, 3, 6)),
        ("aug", (0, 4, 8)),
        ("maj7", (0, 4, 7, 11)),
        ("min7", (0, 3, 7, 10)),
        ("7", (0, 4, 7, 10)),
        ("dim7", (0, 3, 6, 9)),
        ("hdim7", (0, 3, 6, 10)),
        ("minmaj7", (0, 3, 7, 11)),
        ("maj6", (0, 4, 7, 9)),
        ("min6", (0, 3, 7, 9)),
        ("9", (0, 4, 7, 10, 14)),
        ("maj9", (0, 4, 7, 11, 14)),
        ("min9", (0, 3, 7, 10, 14)),
        ("sus2", (0, 2, 7)),
        ("sus4", (0, 5, 7)),
        ("5", (0, 7)),
        ("11", (0, 4, 7, 10, 14, 17)),
        ("min11", (0, 3, 7, 10, 14, 17)),
        ("13", (0, 4, 7, 10, 14, 17, 21)),
        ("min13", (0, 3, 7, 10, 14, 17, 21)),
        ("maj13", (0, 4, 7, 11, 14, 17, 21)),
    )
}

#: The bass's interval name by semitones above the root, where it is not a chord tone.
BASS_DEGREES = ("1", "b2", "2", "b3", "3", "4", "b5", "5", "b6", "6", "b7", "7")


class UnreadableSymbol(ValueError):
    """A token that is not a chord symbol; ``str()`` names it and pychord's reason."""

    def __init__(self, token: str, reason: str) -> None:
        self.token = token
        self.reason = reason
        super().__init__(f"not a chord symbol: {token!r} ({reason})")


@functools.cache
def _quality_manager():
    """pychord's quality table, extended once by :data:`EXTRA_QUALITIES`."""
    from pychord.quality import QualityManager

    manager = QualityManager()
    known = manager.get_qualities()
    for name, intervals in EXTRA_QUALITIES.items():
        if name not in known:
            manager.set_quality(name, intervals)
    return manager


def harte_quality(intervals: list[str], semitones: tuple[int, ...]) -> str:
    """The Harte quality of a chord given as interval names and their semitones above the root
    (see the module rules). Of equally large contained shorthands the first listed in
    :data:`HARTE_SHORTHANDS` wins, so a chord with a third is read by its third."""
    chord = frozenset(semitones)
    exact = HARTE_SHORTHANDS.get(chord)
    if exact is not None:
        return exact
    bases = [
        (len(s), -order, name, s)
        for order, (s, name) in enumerate(HARTE_SHORTHANDS.items())
        if s < chord
    ]
    if bases:
        _, _, name, base = max(bases)
        extra = [i for i, s in zip(intervals, semitones, strict=True) if s not in base]
        return f"{name}({','.join(extra)})"
    return f"({','.join(intervals)})"


def _bass_degree(bass: int, intervals: list[str], semitones: tuple[int, ...]) -> str:
    """The bass's Harte interval above the root: the chord tone's name where it is one."""
    for name, semitone in zip(intervals, semitones, strict=True):
        if semitone < 12 and semitone == bass:
            return name
    return BASS_DEGREES[bass]


@functools.lru_cache(maxsize=65536)
def symbol_to_harte(token: str, capo: int = 0) -> str | None:
    """The Harte label of chord symbol ``token`` sounding with a capo on fret ``capo``;
    ``None`` for a no-chord token (``N.C.``).

    Raises:
        UnreadableSymbol: ``token`` is not a chord symbol pychord reads.
    """
    text = token.strip()
    if text in NO_CHORD_SYMBOLS:
        return None
    _quality_manager()
    from pychord import Chord

    try:
        chord = Chord(text)
        quality = chord.quality
        root = pitch_class(chord.root)
        bass = pitch_class(chord.on) if chord.on else root
    except (ValueError, KeyError, IndexError) as error:
        raise UnreadableSymbol(token, str(error) or type(error).__name__) from None
    intervals = quality.intervals
    semitones = quality.components
    label = f"{PITCH_NAMES[(root + capo) % 12]}:{harte_quality(intervals, semitones)}"
    if bass != root:
        label += "/" + _bass_degree((bass - root) % 12, intervals, semitones)
    return label
