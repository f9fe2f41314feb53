"""The chord synthesizer: durations, pitch content, noise for no-chord, errors, files."""

from __future__ import annotations

import numpy as np
import pytest

from coat_tf.chords.synth import (
    SynthSettings,
    chord_notes,
    read_lab,
    render,
    render_lab,
    write_audio,
)

SR = SynthSettings().sample_rate


def chroma(signal: np.ndarray, sample_rate: int = SR) -> np.ndarray:
    """Spectral energy per pitch class (0 = C) between 50 Hz and 2 kHz."""
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1.0 / sample_rate)
    band = (freqs > 50) & (freqs < 2000)
    classes = np.round(12 * np.log2(freqs[band] / 440.0) + 69).astype(int) % 12
    return np.bincount(classes, weights=spectrum[band], minlength=12)


def top_classes(signal: np.ndarray, count: int) -> set[int]:
    return set(np.argsort(chroma(signal))[-count:].tolist())


def test_duration_follows_segments_or_argument() -> None:
    labels = [(0.0, 1.0, "C:maj"), (1.0, 2.5, "A:min")]
    assert render(labels).shape == (int(2.5 * SR),)
    assert render(labels, duration=4.0).shape == (4 * SR,)
    assert render(labels).dtype == np.float32


@pytest.mark.parametrize(
    ("label", "classes"),
    [
        ("C:maj", {0, 4, 7}),
        ("A:min", {9, 0, 4}),
        ("F#:maj", {6, 10, 1}),
        ("Bb:min7", {10, 1, 5, 8}),
    ],
)
def test_chroma_peaks_on_the_chord_tones(label: str, classes: set[int]) -> None:
    signal = render([(0.0, 2.0, label)])
    assert top_classes(signal, len(classes)) == classes


def test_notes_voicing_and_inversion_bass() -> None:
    settings = SynthSettings()
    assert chord_notes("C:maj", settings) == [60, 64, 67, 36]
    # D major over its fifth: close voicing from D4, bass A2.
    assert chord_notes("D:maj/5", settings) == [62, 66, 69, 45]
    assert chord_notes("N", settings) == [] and chord_notes("X", settings) == []


def test_no_chord_is_soft_noise_and_chords_are_loud() -> None:
    signal = render([(0.0, 1.0, "N"), (1.0, 2.0, "G:maj")])
    quiet, loud = signal[:SR], signal[SR:]
    rms_quiet = float(np.sqrt(np.mean(quiet**2)))
    rms_loud = float(np.sqrt(np.mean(loud**2)))
    assert 0.0 < rms_quiet < 0.05
    assert rms_loud > 10 * rms_quiet
    assert np.max(np.abs(signal)) <= 1.0


def test_rendering_is_deterministic_and_seeded() -> None:
    labels = [(0.0, 1.0, "N"), (1.0, 2.0, "E:min")]
    np.testing.assert_array_equal(render(labels), render(labels))
    other = render(labels, SynthSettings(seed=1))
    assert not np.array_equal(render(labels), other)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="H:maj"):
        render([(0.0, 1.0, "H:maj")])
    with pytest.raises(ValueError, match="ends"):
        render([(2.0, 1.0, "C:maj")])
    with pytest.raises(ValueError, match="partials"):
        SynthSettings(partials=0)


def test_read_lab_errors_name_file_and_line(tmp_path) -> None:
    good = tmp_path / "good.lab"
    good.write_text("0.0\t1.5\tC:maj\n\n1.5 3.0 A:min\n")
    assert read_lab(good) == [(0.0, 1.5, "C:maj"), (1.5, 3.0, "A:min")]
    bad = tmp_path / "bad.lab"
    bad.write_text("0.0\t1.0\tC:maj\n1.0\tlater\tG:maj\n")
    with pytest.raises(ValueError, match=r"bad\.lab:2"):
        read_lab(bad)
    backwards = tmp_path / "backwards.lab"
    backwards.write_text("2.0 1.0 C:maj\n")
    with pytest.raises(ValueError, match=r"backwards\.lab:1"):
        read_lab(backwards)


def test_render_lab_writes_a_readable_file(tmp_path) -> None:
    import soundfile

    lab = tmp_path / "song.lab"
    lab.write_text("0.0 1.0 N\n1.0 2.0 C:maj\n2.0 3.0 G:7\n")
    seconds = render_lab(lab, tmp_path / "song.flac")
    data, rate = soundfile.read(tmp_path / "song.flac")
    assert rate == SR and seconds == pytest.approx(3.0)
    assert data.shape == (3 * SR,)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    with pytest.raises(ValueError, match="suffix"):
        write_audio(tmp_path / "song.mp3", data, rate)
    empty = tmp_path / "empty.lab"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="empty.lab"):
        render_lab(empty, tmp_path / "empty.flac")


@pytest.mark.audio
def test_chordino_recovers_a_rendered_progression(tmp_path) -> None:
    from coat_tf.chords.extract import extract_file
    from coat_tf.chords.vocabulary import ChordVocabulary

    progression = ["C:maj", "G:maj", "A:min", "F:maj"]
    labels = [(2.0 * i, 2.0 * (i + 1), label) for i, label in enumerate(progression * 2)]
    write_audio(tmp_path / "p.wav", render(labels), SR)
    vocabulary = ChordVocabulary.from_name("majmin")
    found = []
    for segment in extract_file(tmp_path / "p.wav"):
        label = vocabulary.normalize(segment.label)
        if segment.end - segment.start > 0.5 and label != "N" and label not in found[-1:]:
            found.append(label)
    assert found == progression * 2
