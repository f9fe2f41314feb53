"""Chordino extraction: formats, bad files, the resumable cache, and real recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coat_tf.chords.cache import RecordCache
from coat_tf.chords.extract import (
    AudioError,
    ExtractorSettings,
    extract_file,
    extract_many,
)
from coat_tf.chords.sequence import chord_changes, to_sequence
from coat_tf.chords.vocabulary import ChordVocabulary

SAMPLE_RATE = 22050
# Bass note then triad, as MIDI notes: C, G, Am, F.
PROGRESSION = ((48, 60, 64, 67), (43, 59, 62, 67), (45, 57, 60, 64), (41, 57, 60, 65))
PROGRESSION_LABELS = ["C:maj", "G:maj", "A:min", "F:maj"]


def chord_tones(chords=PROGRESSION, seconds: float = 1.5, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Struck harmonic tones, one chord per ``seconds``: float32 mono samples."""
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / 2.0)
    pieces = []
    for notes in chords:
        frequencies = [440.0 * 2 ** ((note - 69) / 12) for note in notes]
        tone = sum(
            0.6 ** (k - 1) * np.sin(2 * np.pi * k * f * t) for f in frequencies for k in range(1, 6)
        )
        pieces.append(tone * envelope)
    samples = np.concatenate(pieces)
    return (0.3 * samples / np.abs(samples).max()).astype(np.float32)


def write_audio(path: Path, samples: np.ndarray | None = None, rate: int = SAMPLE_RATE) -> Path:
    """Write ``samples`` (default: the test progression) with soundfile; format from suffix."""
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, chord_tones() if samples is None else samples, rate)
    return path


def bad_files(folder: Path) -> dict[str, Path]:
    """One file of each failure kind (not written for ``missing``)."""
    corrupt = folder / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)
    empty = folder / "empty.ogg"
    empty.write_bytes(b"")
    return {
        "corrupt": corrupt,
        "empty": empty,
        "no samples": write_audio(folder / "zero_frames.wav", np.zeros(0, dtype=np.float32)),
        "silent": write_audio(folder / "silent.wav", np.zeros(3 * SAMPLE_RATE, np.float32)),
        "missing": folder / "missing.mp3",
    }


@pytest.fixture
def majmin() -> ChordVocabulary:
    return ChordVocabulary.from_name("majmin")


@pytest.mark.parametrize("suffix", [".wav", ".ogg", ".mp3"])
def test_extract_file_finds_the_progression(tmp_path, majmin, suffix: str) -> None:
    path = write_audio(tmp_path / f"song{suffix}")
    segments = extract_file(path)
    assert [majmin.labels[i] for i in chord_changes(segments, majmin)] == PROGRESSION_LABELS
    assert all(s.start < s.end for s in segments)
    assert all(
        a.end == pytest.approx(b.start) for a, b in zip(segments[:-1], segments[1:], strict=True)
    )
    assert segments[-1].end <= len(PROGRESSION) * 1.5 + 1e-6


def test_extract_file_at_another_sample_rate(tmp_path, majmin) -> None:
    path = write_audio(tmp_path / "song.wav")
    segments = extract_file(path, ExtractorSettings(sample_rate=16000))
    assert [majmin.labels[i] for i in chord_changes(segments, majmin)] == PROGRESSION_LABELS


def test_bad_files_raise_audio_error(tmp_path) -> None:
    reasons = {
        "corrupt": "cannot decode audio",
        "empty": "empty file",
        "no samples": "no audio samples",
        "silent": "silent",
        "missing": "file not found",
    }
    for kind, path in bad_files(tmp_path).items():
        with pytest.raises(AudioError) as caught:
            extract_file(path)
        assert caught.value.path == str(path)
        assert reasons[kind] in caught.value.reason
        assert str(path) in str(caught.value) and caught.value.reason in str(caught.value)


def test_failures_recorded_while_good_files_go_on(tmp_path, majmin) -> None:
    good = [write_audio(tmp_path / "a.wav"), write_audio(tmp_path / "b.ogg")]
    bad = bad_files(tmp_path)
    paths = [good[0], *bad.values(), good[1]]
    report = extract_many(paths, tmp_path / "cache", workers=1, progress=False)
    assert sorted(report.chords) == sorted(str(p) for p in good)
    assert [path for path, _ in report.failures] == [str(p) for p in bad.values()]
    reasons = dict(report.failures)
    assert "silent" in reasons[str(bad["silent"])]
    assert "not found" in reasons[str(bad["missing"])]
    assert report.extracted == 2 and report.cached == 0
    assert report.audio_seconds == pytest.approx(2 * 6.0)
    for segments in report.chords.values():
        assert [majmin.labels[i] for i in chord_changes(segments, majmin)] == PROGRESSION_LABELS


def test_stop_on_error_raises(tmp_path) -> None:
    good = write_audio(tmp_path / "a.wav")
    silent = bad_files(tmp_path)["silent"]
    with pytest.raises(AudioError, match="silent") as caught:
        extract_many(
            [good, silent], tmp_path / "cache", workers=1, stop_on_error=True, progress=False
        )
    assert caught.value.path == str(silent)


def test_cache_key_follows_settings() -> None:
    base = ExtractorSettings()
    assert base.cache_key() == ExtractorSettings().cache_key()
    assert len(base.cache_key()) == 16
    others = [
        ExtractorSettings(sample_rate=16000),
        ExtractorSettings(boost_n=0.2),
        ExtractorSettings(tuning_mode="local"),
        ExtractorSettings(use_nnls=False),
    ]
    keys = {base.cache_key()} | {s.cache_key() for s in others}
    assert len(keys) == 1 + len(others)
    with pytest.raises(ValueError, match="tuning_mode"):
        ExtractorSettings(tuning_mode="auto")
    with pytest.raises(ValueError, match="sample_rate"):
        ExtractorSettings(sample_rate=22050.0)


def test_cache_resumes_and_redoes_bad_records(tmp_path, majmin) -> None:
    cache = tmp_path / "cache"
    first = write_audio(tmp_path / "first.wav")
    second = write_audio(tmp_path / "second.wav", chord_tones(PROGRESSION[::-1]))

    # A run that finished only the first song (as if killed after it), then a full run.
    third = write_audio(tmp_path / "third.ogg", chord_tones(PROGRESSION[1:]))
    done = extract_many([first], cache, workers=1, progress=False)
    assert done.extracted == 1
    report = extract_many([first, second, third], cache, workers=1, progress=False)
    assert (report.extracted, report.cached) == (2, 1)
    assert chord_changes(report.chords[str(third)], majmin) == [
        majmin.encode(label) for label in PROGRESSION_LABELS[1:]
    ]
    assert report.chords[str(first)] == done.chords[str(first)]

    # A second run extracts nothing; a copy under another name is found by content.
    copy = tmp_path / "renamed.wav"
    copy.write_bytes(first.read_bytes())
    again = extract_many([first, second, copy], cache, progress=False)
    assert (again.extracted, again.cached) == (0, 3)
    assert again.chords[str(copy)] == again.chords[str(first)]
    assert again.chords[str(second)] == report.chords[str(second)]

    # A truncated record and a stray temporary file: the record is ignored and redone.
    assert len(list(cache.rglob("*.json"))) == 3
    records = RecordCache(cache, kind="chords", settings_key=ExtractorSettings().cache_key())
    record = records.record_path(records.key_for(first))
    record.write_bytes(record.read_bytes()[:20])
    (record.parent / f".{record.name}.abc.tmp").write_text("{")
    redo = extract_many([first, second], cache, workers=1, progress=False)
    assert (redo.extracted, redo.cached) == (1, 1)
    assert redo.chords[str(first)] == report.chords[str(first)]
    assert records.load(records.key_for(first)) is not None

    # Other settings miss the cache.
    other = extract_many([first], cache, ExtractorSettings(boost_n=0.2), workers=1, progress=False)
    assert (other.extracted, other.cached) == (1, 0)


def test_record_under_wrong_key_is_ignored(tmp_path) -> None:
    cache = RecordCache(tmp_path, kind="chords", settings_key="k")
    cache.save("aa-k", {"x": 1})
    assert cache.load("aa-k") == {"x": 1}
    cache.record_path("ab-k").parent.mkdir(parents=True)
    cache.record_path("ab-k").write_bytes(cache.record_path("aa-k").read_bytes())
    assert cache.load("ab-k") is None
    assert cache.load("missing-k") is None


def test_real_recordings(shared_data, tmp_path, majmin) -> None:
    """The four real recordings give non-empty sequences that are not all no-chord."""
    paths = sorted((shared_data / "audio").glob("*.ogg"))
    assert len(paths) == 4
    report = extract_many(paths, tmp_path / "cache", workers=2, progress=False)  # a pool
    assert report.failures == []
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 4  # written by the workers
    again = extract_many(paths, tmp_path / "cache", workers=2, progress=False)
    assert (again.extracted, again.cached) == (0, 4)
    assert again.chords == report.chords
    assert report.extracted == 4
    assert report.audio_seconds > 300
    for path in paths:
        segments = report.chords[str(path)]
        assert segments, path
        assert any(segment.label != "N" for segment in segments), path
        sequence = to_sequence(segments, majmin)
        assert sequence.shape == (100,) and sequence.all(), path
        assert len(set(sequence.tolist())) >= 3, path


def test_copies_of_one_file_are_extracted_and_counted_once(tmp_path) -> None:
    first = write_audio(tmp_path / "first.wav")
    copies = [tmp_path / f"copy{i}.wav" for i in range(3)]
    for copy in copies:
        copy.write_bytes(first.read_bytes())
    report = extract_many([first, *copies], tmp_path / "cache", workers=1, progress=False)
    assert (report.extracted, report.copies, report.cached) == (1, 3, 0)
    assert report.audio_seconds == pytest.approx(len(PROGRESSION) * 1.5, abs=0.01)
    assert all(report.chords[str(c)] == report.chords[str(first)] for c in copies)
    assert "1 extracted, 0 cached, 3 copies of others" in report.summary()
