"""The Billboard accuracy benchmark: its MIREX majmin scoring, and a floor on real annotations."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from coat_tf.chords.extract import ChordSegment

BENCH = Path(__file__).resolve().parents[1] / "bench" / "billboard_accuracy.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("billboard_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_score_is_duration_weighted(bench: ModuleType) -> None:
    reference = [(0.0, 2.0, "C:maj"), (2.0, 4.0, "A:min")]
    estimate = [ChordSegment("C", 0.0, 2.0), ChordSegment("Am", 2.0, 3.0), ChordSegment("F", 3, 4)]
    assert bench.majmin_score(reference, estimate) == pytest.approx((0.75, 4.0))


def test_score_follows_mirex_majmin_rules(bench: ModuleType) -> None:
    # Sevenths and inversions reduce to their triad; X and sus4 references are not scored;
    # a minor estimate for a major reference is wrong.
    reference = [(0.0, 1.0, "G:7"), (1.0, 2.0, "X"), (2.0, 3.0, "D:sus4"), (3.0, 4.0, "F:maj/3")]
    estimate = [
        ChordSegment("G", 0.0, 1.0),
        ChordSegment("C", 1.0, 3.0),
        ChordSegment("Fm/Ab", 3.0, 4.0),
    ]
    assert bench.majmin_score(reference, estimate) == pytest.approx((0.5, 2.0))
    # Chordino's own labels, such as slash chords and sevenths, are read through the vocabulary.
    estimate = [ChordSegment("G7", 0.0, 1.0), ChordSegment("F/A", 3.0, 4.0)]
    assert bench.majmin_score(reference, estimate) == pytest.approx((1.0, 2.0))


def test_missing_folder_is_named(bench: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="labs"):
        bench.song_ids(tmp_path)


@pytest.mark.audio
@pytest.mark.slow
def test_accuracy_floor_on_real_annotations(
    bench: ModuleType, shared_data: Path, tmp_path: Path
) -> None:
    billboard = shared_data / "billboard"
    ids = bench.song_ids(billboard)[:3]
    assert ids == ["0003", "0004", "0006"]
    result = bench.run_benchmark(billboard, ids, tmp_path, workers=1, progress=False)
    assert [s.song_id for s in result.songs] == ids and not result.skipped
    # Measured: 0.979, 0.983, 0.990 (mean 0.984); 0.90 over the first 20 songs. Chance (one
    # of 24 major/minor chords) is about 0.04; always guessing the song's most common chord
    # would score well under 0.5.
    assert result.mean > 0.75
    assert min(s.score for s in result.songs) > 0.6
    assert not list((tmp_path / "audio").glob("*.flac"))  # rendered audio is cleaned up
