"""Chord symbols of chord sheets -> Harte labels -> vocabulary ids (coat_tf.chords.symbols)."""

from __future__ import annotations

import pytest

from coat_tf.chords.sheets import read_token
from coat_tf.chords.symbols import UnreadableSymbol, harte_quality, symbol_to_harte
from coat_tf.chords.vocabulary import ChordVocabulary
from tests.chord_symbol_cases import NOT_CHORDS, SYMBOLS

MAJMIN = ChordVocabulary.from_name("majmin")
FULL = ChordVocabulary.from_name("full")


def test_the_cases_cover_the_kinds_of_symbols() -> None:
    symbols = [symbol for symbol, *_ in SYMBOLS]
    assert len(SYMBOLS) >= 100
    for part in ("/", "sus", "add", "dim", "aug", "+", "7", "b", "#", "5", "N.C."):
        assert any(part in symbol for symbol in symbols), part
    assert any(capo for _, capo, _, _ in SYMBOLS)


@pytest.mark.parametrize(("symbol", "capo", "harte", "index"), SYMBOLS)
def test_symbol_to_harte_and_majmin_id(symbol: str, capo: int, harte: str, index: int) -> None:
    label = symbol_to_harte(symbol, capo)
    assert (label or "N") == harte
    assert MAJMIN.encode(label or "N") == index
    assert FULL.encode(label or "N") >= (1 if index else 0)  # the full vocabulary reads it too


@pytest.mark.parametrize("token", NOT_CHORDS)
def test_non_chords_are_not_read(token: str) -> None:
    with pytest.raises(UnreadableSymbol, match="not a chord symbol"):
        symbol_to_harte(token)
    with pytest.raises(ValueError):
        read_token(token, "symbol")


@pytest.mark.parametrize(
    ("symbol", "full"),
    [
        ("F#m7b5", "F#:hdim7"),
        ("Bbmaj7", "A#:maj7"),
        ("Cadd9", "C:maj"),
        ("Cadd2", "C:maj"),
        ("A7sus4", "A:sus4"),
        ("Dm11/A", "D:min7"),
        ("C13", "C:7"),
        ("E5", "E:maj"),
        ("CmM7", "C:minmaj7"),
    ],
)
def test_full_vocabulary(symbol: str, full: str) -> None:
    assert FULL.normalize(symbol_to_harte(symbol)) == full


def test_capo_moves_root_not_bass_interval() -> None:
    assert symbol_to_harte("D/F#", 2) == "E:maj/3"
    assert symbol_to_harte("Am/G", 3) == "C:min/b7"
    assert symbol_to_harte("G", 5) == "C:maj"


def test_harte_quality_prefers_shorthand_with_a_third() -> None:
    assert harte_quality(["1", "2", "3", "5"], (0, 2, 4, 7)) == "maj(2)"
    assert harte_quality(["1", "4", "5", "b7"], (0, 5, 7, 10)) == "sus4(b7)"
    assert harte_quality(["1", "3"], (0, 4)) == "(1,3)"


@pytest.mark.parametrize(
    ("token", "capo", "label"),
    [
        ("A:min", 0, "A:min"),
        ("C:maj/3", 2, "D:maj/3"),
        ("Bb:7", 0, "Bb:7"),
        ("E:1/1", 0, "E:1/1"),
        ("N", 0, None),
        ("X", 0, None),
    ],
)
def test_harte_tokens(token: str, capo: int, label: str | None) -> None:
    assert read_token(token, "harte", capo) == label


@pytest.mark.parametrize("token", ["H:maj", "C:foo", "x2", "C:(1,b3,q)"])
def test_bad_harte_tokens(token: str) -> None:
    with pytest.raises(ValueError):
        read_token(token, "harte")
