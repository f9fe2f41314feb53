"""Which parser reads chord sheets' symbols better: pychord or music21's chord symbols.

The tokens are those of the 9,425 Ultimate-Guitar sheets (``syntax`` = ``symbol``) of
``playlists-chords/songs.tsv.gz``, each counted as often as it occurs. Three readers:

- ``pychord``: ``pychord.Chord(token)`` with pychord's own qualities;
- ``music21``: ``music21.harmony.ChordSymbol(token)``, with a flat written ``b`` in the root
  or the bass turned into music21's ``-`` first (``Bb/D`` -> ``B-/D``), since music21 reads
  ``Bb`` as B with the quality ``b`` (``music21 as written`` is the same without it);
- ``package``: :func:`coat_tf.chords.symbols.symbol_to_harte` (pychord with the package's
  extra qualities), its Harte label turned into pitches by mir_eval.

A reading is ``(root, bass, pitch-class set)``, or nothing where the parser refuses the token.
Printed per reader:

- ``accepted``: share of the sheets' tokens the reader returns a chord for (a non-chord such as
  ``A0`` or ``Ab99`` accepted counts here too, so more is not always better);
- ``correct``: share of the sheets' tokens that ``tests/chord_symbol_cases.py`` labels by hand
  (the symbols with capo 0, and the non-chords) that the reader reads right: same root, bass
  and pitch classes as the hand label (mir_eval's reading of it), or refused for a non-chord.
  ``coverage`` is the share of all tokens that the hand labels cover.

Usage::

    python -m bench.chord_symbols [--table songs.tsv.gz] [--json results.json]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

Reading = tuple[int, int, frozenset[int]] | None

_FLAT = re.compile(r"(^|/)([A-G])b")


def sheet_tokens(table: Path) -> Counter:
    """Token -> occurrences over the table's ``symbol`` rows."""
    counts: Counter = Counter()
    with gzip.open(table, "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row["syntax"] == "symbol":
                counts.update(row["chords"].split())
    return counts


def harte_reading(label: str) -> Reading:
    """The reading of a Harte label, by mir_eval (``N`` is no reading)."""
    import mir_eval

    if label == "N":
        return None
    root, bitmap, bass = mir_eval.chord.encode(label, reduce_extended_chords=True)
    pitches = frozenset((root + i) % 12 for i in range(12) if bitmap[i])
    return root, (root + bass) % 12, pitches


def plain_pychord() -> None:
    """pychord's own qualities only: undo the package's additions in this process (they come
    back at the package's next reading)."""
    from pychord.quality import QualityManager

    from coat_tf.chords import symbols

    QualityManager().load_default_qualities()
    symbols._quality_manager.cache_clear()
    symbols.symbol_to_harte.cache_clear()


def read_pychord(token: str) -> Reading:
    from pychord import Chord

    from coat_tf.chords.vocabulary import pitch_class

    try:
        chord = Chord(token)
        root = pitch_class(chord.root)
        bass = pitch_class(chord.on) if chord.on else root
        pitches = frozenset(p % 12 for p in chord.components(visible=False))
    except (ValueError, KeyError, IndexError):
        return None
    return root, bass, pitches


def read_music21(token: str, flats: bool = True) -> Reading:
    """music21's reading; ``flats``: turn a flat written ``b`` into music21's ``-`` first."""
    from music21 import harmony

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chord = harmony.ChordSymbol(_FLAT.sub(r"\1\2-", token) if flats else token)
        if chord.root() is None:
            return None
        pitches = frozenset(p.pitchClass for p in chord.pitches)
        bass = chord.bass().pitchClass if chord.bass() is not None else chord.root().pitchClass
    except Exception:  # noqa: BLE001 - music21 raises many kinds on bad symbols
        return None
    return chord.root().pitchClass, bass, pitches


def read_package(token: str) -> Reading:
    from coat_tf.chords.symbols import symbol_to_harte

    try:
        label = symbol_to_harte(token)
    except ValueError:
        return None
    return None if label is None else harte_reading(label)


def reference() -> dict[str, Reading]:
    """Hand-labelled token -> expected reading (``None``: not a chord, or no chord)."""
    from tests.chord_symbol_cases import NOT_CHORDS, SYMBOLS

    expected: dict[str, Reading] = {token: None for token in NOT_CHORDS}
    for symbol, capo, harte, _ in SYMBOLS:
        if capo == 0:
            expected[symbol] = harte_reading(harte)
    return expected


def measure(
    name: str, read: Callable[[str], Reading], tokens: Counter, expected: dict[str, Reading]
) -> dict:
    """Shares of ``tokens`` accepted and read right by ``read`` (see the module docstring)."""
    start = time.perf_counter()
    readings = {token: read(token) for token in tokens}
    seconds = time.perf_counter() - start
    total = sum(tokens.values())
    covered = {t: n for t, n in tokens.items() if t in expected}
    right = sum(n for t, n in covered.items() if readings[t] == expected[t])
    wrong = Counter({t: n for t, n in covered.items() if readings[t] != expected[t]})
    return {
        "reader": name,
        "accepted": sum(n for t, n in tokens.items() if readings[t] is not None) / total,
        "correct": right / max(sum(covered.values()), 1),
        "coverage": sum(covered.values()) / total,
        "wrong": [[t, n] for t, n in wrong.most_common(10)],
        "seconds": round(seconds, 2),
    }


def main(argv: Sequence[str] | None = None) -> list[dict]:
    from coat_tf.paths import shared_data_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--table", type=Path, default=shared_data_dir() / "playlists-chords" / "songs.tsv.gz"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    tokens = sheet_tokens(args.table)
    expected = reference()
    print(f"{sum(tokens.values())} tokens ({len(tokens)} distinct) in {args.table}")
    results = []
    plain_pychord()  # the package's reader extends pychord's qualities in this process
    readers: list[tuple[str, Callable[[str], Reading]]] = [
        ("pychord", read_pychord),
        ("music21", read_music21),
        ("music21 as written", lambda token: read_music21(token, flats=False)),
    ]
    for name, read in readers:
        results.append(measure(name, read, tokens, expected))
    results.append(measure("package", read_package, tokens, expected))
    for r in results:
        wrong = ", ".join(f"{t} ({n})" for t, n in r["wrong"][:6]) or "-"
        print(
            f"{r['reader']:18s} accepted {r['accepted']:.4f}  correct {r['correct']:.4f} "
            f"(coverage {r['coverage']:.3f})  {r['seconds']:.1f} s  wrong: {wrong}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
