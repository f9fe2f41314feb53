"""Chord symbols of chord sheets with their expected readings, written by hand.

Each case: the symbol as written, the capo fret, the expected Harte label (``N`` for no chord;
roots spelled with sharps, see :mod:`coat_tf.chords.symbols`) and the expected id in the
``majmin`` vocabulary (``1 + 2 * root + minor``, ``N`` = 0). ``NOT_CHORDS`` are tokens of
chord sheets that are not chords. ``bench/chord_symbols.py`` measures parsers against the
capo-0 cases.
"""

from __future__ import annotations

_TABLE = """
G 0 G:maj 15
C 0 C:maj 1
D 0 D:maj 5
A 0 A:maj 19
F 0 F:maj 11
Am 0 A:min 20
Em 0 E:min 10
E 0 E:maj 9
Bm 0 B:min 24
B 0 B:maj 23
Dm 0 D:min 6
Bb 0 A#:maj 21
F#m 0 F#:min 14
C#m 0 C#:min 4
F# 0 F#:maj 13
Gm 0 G:min 16
Eb 0 D#:maj 7
Cm 0 C:min 2
G#m 0 G#:min 18
Ab 0 G#:maj 17
C# 0 C#:maj 3
Fm 0 F:min 12
G# 0 G#:maj 17
Db 0 C#:maj 3
Bbm 0 A#:min 22
D#m 0 D#:min 8
Gb 0 F#:maj 13
A#m 0 A#:min 22
Ebm 0 D#:min 8
Abm 0 G#:min 18
E#m 0 F:min 12
Cb 0 B:maj 23
Am7 0 A:min7 20
Em7 0 E:min7 10
A7 0 A:7 19
E7 0 E:7 9
B7 0 B:7 23
D7 0 D:7 5
Dm7 0 D:min7 6
Dmin7 0 D:min7 6
Cmaj7 0 C:maj7 1
Fmaj7 0 F:maj7 11
G7 0 G:7 15
Bm7 0 B:min7 24
Bbmaj7 0 A#:maj7 21
Ebmaj7 0 D#:maj7 7
EbM7 0 D#:maj7 7
F#m7 0 F#:min7 14
Cm7 0 C:min7 2
F#m7b5 0 F#:hdim7 14
Bm7b5 0 B:hdim7 24
Edim 0 E:dim 10
Bdim 0 B:dim 24
Ddim7 0 D:dim7 6
Ebdim7 0 D#:dim7 8
Caug 0 C:aug 1
C+ 0 C:aug 1
E+ 0 E:aug 9
CmM7 0 C:minmaj7 2
Cmmaj7 0 C:minmaj7 2
G6 0 G:maj6 15
Dm6 0 D:min6 6
Dsus2 0 D:sus2 5
Dsus4 0 D:sus4 5
Dsus 0 D:sus4 5
Asus2 0 A:sus2 19
Asus4 0 A:sus4 19
Esus4 0 E:sus4 9
Cadd9 0 C:maj(9) 1
Gadd9 0 G:maj(9) 15
Fadd9 0 F:maj(9) 11
Cadd2 0 C:maj(2) 1
C2 0 C:maj(9) 1
Amadd9 0 A:min(9) 20
A7sus4 0 A:sus4(b7) 19
E7sus4 0 E:sus4(b7) 9
E5 0 E:5 9
G5 0 G:5 15
D5 0 D:5 5
A5 0 A:5 19
F#5 0 F#:5 13
Bb5 0 A#:5 21
C9 0 C:9 1
Em9 0 E:min9 10
Dmaj9 0 D:maj9 5
C11 0 C:11 1
C13 0 C:13 1
A7b9 0 A:7(b9) 19
D7#9 0 D:7(#9) 5
C69 0 C:maj6(9) 1
D/F# 0 D:maj/3 5
G/B 0 G:maj/3 15
C/G 0 C:maj/5 1
C/B 0 C:maj/7 1
C/E 0 C:maj/3 1
A/C# 0 A:maj/3 19
G/F# 0 G:maj/7 15
E/G# 0 E:maj/3 9
D/A 0 D:maj/5 5
G/D 0 G:maj/5 15
F/A 0 F:maj/3 11
F/C 0 F:maj/5 11
Am/G 0 A:min/b7 20
Am/E 0 A:min/5 20
Em/D 0 E:min/b7 10
Em/G 0 E:min/b3 10
Em/B 0 E:min/5 10
Dm/C 0 D:min/b7 6
A/E 0 A:maj/5 19
F/G 0 F:maj/2 11
G/A 0 G:maj/2 15
C/D 0 C:maj/2 1
D7/F# 0 D:7/3 5
Am7/G 0 A:min7/b7 20
Bb/D 0 A#:maj/3 21
Dsus4/F# 0 D:sus4/3 5
Cadd9/E 0 C:maj(9)/3 1
Dm11/A 0 D:min11/5 6
G/G 0 G:maj 15
N.C. 0 N 0
NC 0 N 0
Am 2 B:min 24
G 3 A#:maj 21
D/F# 2 E:maj/3 9
Em7 5 A:min7 20
C 12 C:maj 1
Cadd9 4 E:maj(9) 9
E5 1 F:5 11
F#m7b5 1 G:hdim7 16
Bb 2 C:maj 1
Bm 7 F#:min 14
"""

#: ``(symbol, capo, Harte label, majmin id)``.
SYMBOLS: list[tuple[str, int, str, int]] = [
    (symbol, int(capo), harte, int(index))
    for symbol, capo, harte, index in (line.split() for line in _TABLE.strip().splitlines())
]

#: Tokens of chord sheets that are not chords.
NOT_CHORDS = (
    "x2",
    "|",
    "A0",
    "F8",
    "Ab99",
    "B04",
    "A14",
    "B+1",
    "G3",
    "Gadd",
    "Intro:",
    "Verse",
    "(Am)",
    "riff",
    "EADGBE",
    "x02210",
    "Capo",
    "la",
)
