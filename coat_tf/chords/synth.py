"""A small additive synthesizer that renders timed chord labels (Harte syntax) to audio.

Each chord is played as a struck, harmonic-rich tone per note: the chord's pitch classes in a
close voicing in the middle register, plus its bass note one or two octaves lower. A note of
frequency ``f`` is

    x(t) = env(t) * sum_{k=1..K} r^(k-1) * sin(2 pi k f t),    env(t) = min(t / a, 1) * exp(-t / d)

with ``K`` partials, partial roll-off ``r``, attack ``a`` and decay ``d`` seconds. The chord is
struck again every ``strike_seconds`` while it lasts, and every segment fades in and out over a
few milliseconds so boundaries do not click. ``N`` (no chord) and ``X`` (unknown) are soft white
noise. A thin noise floor under the whole signal keeps it from being digital silence.

Rendering is vectorised: one strike of each distinct chord is computed once (a
``[notes * partials, samples]`` sine table) and tiled over every segment that uses it, so a
three-minute song renders in a fraction of a second.

Labels are parsed with :func:`mir_eval.chord.encode` (root, semitone bitmap, bass), so anything
mir_eval accepts can be rendered, including inversions (``D:maj/5``) and extensions
(``Bb:maj(9)``, folded into one octave).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coat_tf.fileio import atomic_write_bytes

#: A timed label: (start seconds, end seconds, Harte label).
TimedLabel = tuple[float, float, str]


@dataclass(frozen=True)
class SynthSettings:
    """How chords are turned into sound.

    Attributes:
        sample_rate: samples per second of the rendered audio.
        partials: harmonics per note (``K``).
        rolloff: amplitude ratio between successive partials (``r``); 0.7 matches the
            harmonic profile Chordino's note dictionary assumes.
        attack_seconds: linear attack of each strike (``a``).
        decay_seconds: exponential decay constant of each strike (``d``).
        strike_seconds: a held chord is struck again this often.
        fade_seconds: fade in and out at every segment boundary.
        chord_low_midi: lowest MIDI note of the chord's root in the middle register; the other
            chord tones are stacked above it within an octave and a half.
        bass_low_midi: lowest MIDI note of the bass; it lies in ``[bass_low_midi, +12)``.
        bass_gain: bass amplitude relative to one chord tone.
        noise_level: RMS of the noise played for ``N`` / ``X``.
        floor_level: RMS of the noise floor under the whole signal.
        peak: the rendered signal is scaled so its largest sample is this.
        seed: seeds the noise, so rendering is deterministic.
    """

    sample_rate: int = 22050
    partials: int = 6
    rolloff: float = 0.7
    attack_seconds: float = 0.01
    decay_seconds: float = 1.5
    strike_seconds: float = 0.5
    fade_seconds: float = 0.005
    chord_low_midi: int = 55
    bass_low_midi: int = 36
    bass_gain: float = 0.8
    noise_level: float = 0.01
    floor_level: float = 0.0005
    peak: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.partials < 1:
            raise ValueError(f"partials must be at least 1, got {self.partials}")
        if not 0.0 < self.rolloff <= 1.0:
            raise ValueError(f"rolloff must be in (0, 1], got {self.rolloff}")
        if self.strike_seconds <= 0 or self.decay_seconds <= 0 or self.attack_seconds < 0:
            raise ValueError("strike_seconds and decay_seconds must be positive, attack >= 0")
        if not 0.0 < self.peak <= 1.0:
            raise ValueError(f"peak must be in (0, 1], got {self.peak}")


def midi_to_hz(midi: np.ndarray | float) -> np.ndarray:
    """Equal temperament, A4 (MIDI 69) = 440 Hz."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def chord_notes(label: str, settings: SynthSettings = SynthSettings()) -> list[int]:
    """The MIDI notes played for a Harte chord label (empty for ``N`` and ``X``).

    The root sits in ``[chord_low_midi, chord_low_midi + 12)``, the other chord tones above it
    (in the order of their interval from the root), and the bass note (the root, or the
    inversion's bass) in ``[bass_low_midi, bass_low_midi + 12)``.

    Raises:
        ValueError: mir_eval cannot parse ``label``.
    """
    import mir_eval.chord

    try:
        root, bitmap, bass = mir_eval.chord.encode(label, reduce_extended_chords=True)
    except mir_eval.chord.InvalidChordException as error:
        raise ValueError(f"cannot parse chord label {label!r}: {error}") from error
    if root < 0:
        return []
    root_midi = settings.chord_low_midi + (root - settings.chord_low_midi) % 12
    notes = [root_midi + int(i) for i in np.flatnonzero(bitmap > 0)]
    if not notes:
        notes = [root_midi]
    bass_pc = (root + int(bass)) % 12
    notes.append(settings.bass_low_midi + (bass_pc - settings.bass_low_midi) % 12)
    return notes


def _strike(notes: Sequence[int], length: int, settings: SynthSettings) -> np.ndarray:
    """One strike of the given notes: float64 ``[length]``, before gain normalisation."""
    if length <= 0:
        return np.zeros(0)
    sr = settings.sample_rate
    t = np.arange(length) / sr
    freqs = midi_to_hz(np.asarray(notes, dtype=np.float64))
    gains = np.ones(len(notes))
    gains[-1] = settings.bass_gain  # the bass is the last note
    k = np.arange(1, settings.partials + 1, dtype=np.float64)
    partial_freqs = (freqs[:, None] * k[None, :]).ravel()
    partial_amps = (gains[:, None] * settings.rolloff ** (k[None, :] - 1)).ravel()
    keep = partial_freqs < 0.45 * sr  # no aliasing
    tone = partial_amps[keep] @ np.sin(2.0 * np.pi * partial_freqs[keep, None] * t[None, :])
    attack = max(settings.attack_seconds, 1.0 / sr)
    envelope = np.minimum(t / attack, 1.0) * np.exp(-t / settings.decay_seconds)
    return tone * envelope


def render(
    labels: Iterable[TimedLabel],
    settings: SynthSettings = SynthSettings(),
    duration: float | None = None,
) -> np.ndarray:
    """Render timed chord labels to a mono signal.

    Args:
        labels: ``(start, end, label)`` triples in seconds, Harte labels. Gaps between
            segments are rendered as noise, like ``N``.
        settings: the synthesizer's settings.
        duration: length of the output in seconds; default the last segment's end.

    Returns:
        float32 ``[round(duration * sample_rate)]``, peak ``settings.peak``.

    Raises:
        ValueError: a label mir_eval cannot parse, or a segment with ``end < start``.
    """
    segments = list(labels)
    for start, end, label in segments:
        if end < start:
            raise ValueError(f"segment {label!r} ends ({end}) before it starts ({start})")
    sr = settings.sample_rate
    if duration is None:
        duration = max((end for _, end, _ in segments), default=0.0)
    total = int(round(duration * sr))
    rng = np.random.default_rng(settings.seed)
    out = np.zeros(total, dtype=np.float64)
    is_noise = np.ones(total, dtype=bool)
    strike_len = max(1, int(round(settings.strike_seconds * sr)))
    fade_len = max(1, int(round(settings.fade_seconds * sr)))
    strikes: dict[str, np.ndarray] = {}
    for start, end, label in segments:
        a, b = int(round(start * sr)), min(int(round(end * sr)), total)
        if b <= a:
            continue
        if label not in strikes:
            notes = chord_notes(label, settings)
            strikes[label] = _strike(notes, strike_len, settings) if notes else np.zeros(0)
        strike = strikes[label]
        if strike.size == 0:
            continue
        n = b - a
        reps = -(-n // strike_len)
        piece = np.tile(strike, reps)[:n].copy()
        f = min(fade_len, n // 2)
        if f > 0:
            ramp = np.linspace(0.0, 1.0, f, endpoint=False)
            piece[:f] *= ramp
            piece[n - f :] *= ramp[::-1]
        out[a:b] = piece
        is_noise[a:b] = False
    loudest = np.max(np.abs(out)) if total else 0.0
    if loudest > 0:
        out *= settings.peak / loudest
    noise = rng.standard_normal(total)
    out += noise * np.where(is_noise, settings.noise_level, settings.floor_level)
    loudest = np.max(np.abs(out)) if total else 0.0
    if loudest > 1.0:
        out /= loudest
    return out.astype(np.float32)


def write_audio(path: str | os.PathLike, signal: np.ndarray, sample_rate: int) -> None:
    """Write a mono signal atomically; the format follows the suffix (``.wav``, ``.flac``).

    WAV is written as 16-bit PCM, FLAC as 16-bit FLAC.
    """
    import soundfile

    path = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported audio suffix (use .wav or .flac)")
    buffer = io.BytesIO()
    soundfile.write(buffer, signal, sample_rate, format=fmt, subtype="PCM_16")
    atomic_write_bytes(path, buffer.getvalue())


def read_lab(path: str | os.PathLike) -> list[TimedLabel]:
    """Read a ``.lab`` file: one ``start end label`` per line (tabs or spaces); blank lines skip.

    Raises:
        ValueError: a line that is not ``start end label`` with numeric, ordered times; the
            message names the file and the line.
    """
    path = Path(path)
    segments: list[TimedLabel] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3:
                raise ValueError(f"{path}:{number}: expected 'start end label', got {line!r}")
            try:
                start, end = float(fields[0]), float(fields[1])
            except ValueError:
                raise ValueError(f"{path}:{number}: times are not numbers: {line!r}") from None
            if not (np.isfinite(start) and np.isfinite(end)) or end < start or start < 0:
                raise ValueError(f"{path}:{number}: bad time range {start}..{end}")
            segments.append((start, end, fields[2]))
    return segments


def render_lab(
    lab_path: str | os.PathLike,
    out_path: str | os.PathLike,
    settings: SynthSettings = SynthSettings(),
) -> float:
    """Render a ``.lab`` file to an audio file (written atomically); returns its seconds.

    Raises:
        ValueError: the ``.lab`` file is malformed or empty, or holds a label mir_eval cannot
            parse (the message names the file).
    """
    segments = read_lab(lab_path)
    if not segments:
        raise ValueError(f"{lab_path}: no chord segments")
    try:
        signal = render(segments, settings)
    except ValueError as error:
        raise ValueError(f"{lab_path}: {error}") from error
    write_audio(out_path, signal, settings.sample_rate)
    return len(signal) / settings.sample_rate
