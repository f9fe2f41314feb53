"""Chord extraction from audio with Chordino, one file or many (parallel, cached, resumable).

Audio is decoded with librosa (any format it reads: WAV, FLAC, OGG, MP3, ...), mixed to mono and
resampled to ``ExtractorSettings.sample_rate`` (explicit, 22,050 Hz by default); the samples are
handed to the Chordino Vamp plugin that ships with ``chord-extractor``. Chordino returns chord
*changes* ``(time, label)``; each change lasts until the next one, the last until the end of the
audio, giving a list of :class:`ChordSegment`.

Bad input raises :class:`AudioError` (``.path``, ``.reason``):

- missing file, or a 0-byte file ("empty file");
- a file no decoder can read ("cannot decode audio: ...");
- a decoded file with no samples ("no audio samples");
- a silent file: root mean square of the whole mono signal below ``silence_rms`` (default
  ``1e-3``, i.e. -60 dBFS; real music, even quiet classical recordings, lies far above it).

:func:`extract_many` runs :func:`extract_file` over a process pool (the Chordino warm-up is paid
once per worker), with a progress bar, and keeps one cache record per song keyed by the file's
content hash and :meth:`ExtractorSettings.cache_key` (see :mod:`coat_tf.chords.cache`). A run
killed half-way resumes without redoing finished songs. Failures are not cached: they are tried
again on the next run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coat_tf.chords.cache import RecordCache, TaskResult, run_cached
from coat_tf.chords.errors import AudioError

# Bump when the record layout or the extraction code changes meaning: old records are ignored.
EXTRACTOR_VERSION = 1
TUNING_MODES = ("global", "local")


@dataclass(frozen=True)
class ExtractorSettings:
    """Audio decoding and Chordino parameters (Chordino's defaults for pop music).

    Attributes:
        sample_rate: Hz; audio is resampled to this before Chordino.
        use_nnls: Chordino's approximate note transcription (NNLS).
        roll_on: spectral roll-on, 0..5 (per cent).
        tuning_mode: ``"global"`` or ``"local"`` tuning estimation.
        spectral_whitening: 0..1.
        spectral_shape: 0.5..0.9.
        boost_n: boost of the no-chord likelihood, 0..1.
        silence_rms: a file whose mono RMS is below this is rejected as silent.
    """

    sample_rate: int = 22050
    use_nnls: bool = True
    roll_on: float = 1.0
    tuning_mode: str = "global"
    spectral_whitening: float = 1.0
    spectral_shape: float = 0.7
    boost_n: float = 0.1
    silence_rms: float = 1e-3

    def __post_init__(self) -> None:
        if isinstance(self.sample_rate, bool) or not isinstance(self.sample_rate, int):
            raise ValueError(f"sample_rate must be an integer, got {self.sample_rate!r}")
        if not 4000 <= self.sample_rate <= 192000:
            raise ValueError(f"sample_rate must be in 4000..192000 Hz, got {self.sample_rate}")
        if self.tuning_mode not in TUNING_MODES:
            raise ValueError(f"tuning_mode must be one of {TUNING_MODES}, got {self.tuning_mode!r}")
        if not 0 <= self.roll_on <= 5:
            raise ValueError(f"roll_on must be in 0..5, got {self.roll_on!r}")
        if not 0 <= self.spectral_whitening <= 1:
            raise ValueError(f"spectral_whitening must be in 0..1, got {self.spectral_whitening!r}")
        if not 0.5 <= self.spectral_shape <= 0.9:
            raise ValueError(f"spectral_shape must be in 0.5..0.9, got {self.spectral_shape!r}")
        if not 0 <= self.boost_n <= 1:
            raise ValueError(f"boost_n must be in 0..1, got {self.boost_n!r}")
        if not self.silence_rms >= 0:
            raise ValueError(f"silence_rms must be >= 0, got {self.silence_rms!r}")

    def chordino_parameters(self) -> dict[str, float]:
        """The Vamp parameter dictionary for ``nnls-chroma:chordino``."""
        return {
            "useNNLS": float(self.use_nnls),
            "rollon": float(self.roll_on),
            "tuningmode": float(TUNING_MODES.index(self.tuning_mode)),
            "whitening": float(self.spectral_whitening),
            "s": float(self.spectral_shape),
            "boostn": float(self.boost_n),
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def cache_key(self) -> str:
        """Stable 16-hex-digit hash of every setting and the extractor version."""
        payload = json.dumps(
            {"extractor": EXTRACTOR_VERSION, **self.to_dict()}, sort_keys=True
        ).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


@dataclass(frozen=True)
class ChordSegment:
    """One timed chord: Chordino's raw ``label`` from ``start`` to ``end`` seconds."""

    label: str
    start: float
    end: float


@dataclass
class ExtractionReport:
    """What :func:`extract_many` did.

    Attributes:
        chords: ``str(path)`` as given -> its segments, for every file that succeeded.
        failures: ``(path, reason)`` for every file that failed, in input order.
        extracted: distinct files run through Chordino in this call.
        cached: files read from the cache.
        copies: files with the same content as another input of this call, which gave their
            chords (counted neither as extracted nor in ``audio_seconds``).
        seconds: wall-clock time of the call.
        audio_seconds: total duration of the audio extracted in this call (not the cached,
            not the copies).
    """

    chords: dict[str, list[ChordSegment]] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    extracted: int = 0
    cached: int = 0
    copies: int = 0
    seconds: float = 0.0
    audio_seconds: float = 0.0

    @property
    def times_real_time(self) -> float:
        """Audio seconds extracted per wall-clock second (0 when nothing was extracted)."""
        return self.audio_seconds / self.seconds if self.extracted and self.seconds > 0 else 0.0

    def summary(self) -> str:
        copies = f", {self.copies} copies of others" if self.copies else ""
        return (
            f"{len(self.chords)} songs ({self.extracted} extracted, {self.cached} cached"
            f"{copies}), "
            f"{len(self.failures)} failed, {self.audio_seconds:.0f} s of audio in "
            f"{self.seconds:.1f} s ({self.times_real_time:.1f}x real time)"
        )


def load_audio(path: str | os.PathLike, sample_rate: int, silence_rms: float = 0.0, **kwargs: Any):
    """Decode ``path`` to mono float32 samples at ``sample_rate``.

    Extra keyword arguments (``offset``, ``duration``) go to ``librosa.load``.

    Returns:
        float32 array ``[samples]``.

    Raises:
        AudioError: missing, empty, undecodable, sample-less or silent file.
    """
    import librosa

    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "file not found")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # librosa warns before falling back to audioread; a failure is reported below.
            warnings.filterwarnings("ignore", message="PySoundFile failed")
            warnings.filterwarnings("ignore", category=FutureWarning, module="librosa")
            samples, _ = librosa.load(path, sr=sample_rate, mono=True, **kwargs)
    except Exception as error:  # decoders raise many types; all mean "unreadable"
        raise AudioError(path, _decode_failure(path, error)) from None
    if samples.size == 0:
        raise AudioError(path, "no audio samples")
    if not np.all(np.isfinite(samples)):
        raise AudioError(path, "audio contains NaN or infinite samples")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms < silence_rms:
        raise AudioError(path, f"silent: RMS {rms:.2e} below threshold {silence_rms:.0e}")
    return samples.astype(np.float32, copy=False)


def _decode_failure(path: Path, error: Exception) -> str:
    """Why ``path`` could not be decoded, in words.

    librosa tries libsndfile, then audioread (ffmpeg, GStreamer); when both fail it raises
    audioread's ``NoBackendError``, which says nothing. libsndfile's own reason ("file is
    malformed", ...) is the useful part, so it is asked again.
    """
    message = (str(error).strip().splitlines() or [""])[0]
    if type(error).__name__ != "NoBackendError":
        return f"cannot decode audio: {type(error).__name__}: {message}".rstrip(": ")
    reason = "format not recognised"
    try:
        import soundfile

        soundfile.info(str(path))
    except Exception as sf_error:  # any libsndfile failure gives a reason
        text = str(sf_error).split(": ", 1)[-1].strip()
        if text and "does not exist or is not a regular file" not in text:
            reason = text.rstrip(".")
    return (
        f"cannot decode audio: {reason} (neither libsndfile nor audioread/ffmpeg could read "
        "it: a damaged or truncated file, or a format without an installed decoder)"
    )


def _vamp():
    """Import ``vamp`` with Chordino's plugin folder (shipped by chord-extractor) on its path."""
    if not os.environ.get("VAMP_PATH"):
        import importlib.resources

        plugin_dir = importlib.resources.files("chord_extractor") / "_lib"
        os.environ["VAMP_PATH"] = str(plugin_dir)
    import vamp

    return vamp


def chordino(samples: np.ndarray, settings: ExtractorSettings) -> list[ChordSegment]:
    """Run Chordino on mono ``samples`` at ``settings.sample_rate``; segments cover the audio."""
    vamp = _vamp()
    output = vamp.collect(
        samples,
        settings.sample_rate,
        "nnls-chroma:chordino",
        parameters=settings.chordino_parameters(),
    )
    duration = samples.size / settings.sample_rate
    changes = [(float(item["timestamp"]), str(item["label"])) for item in output.get("list", [])]
    segments = []
    for index, (start, label) in enumerate(changes):
        # Chordino's last frames may be stamped past the end of the audio: clip to it.
        end = min(changes[index + 1][0] if index + 1 < len(changes) else duration, duration)
        if end > start:
            segments.append(ChordSegment(label=label, start=round(start, 6), end=round(end, 6)))
    return segments


def extract_file(
    path: str | os.PathLike, settings: ExtractorSettings = ExtractorSettings()
) -> list[ChordSegment]:
    """Chord segments of one audio file (no cache).

    Raises:
        AudioError: the file is missing, empty, unreadable or silent.
    """
    samples = load_audio(path, settings.sample_rate, settings.silence_rms)
    return chordino(samples, settings)


def segments_to_json(segments: list[ChordSegment]) -> list[list[Any]]:
    return [[segment.label, segment.start, segment.end] for segment in segments]


def segments_from_json(rows: list[list[Any]]) -> list[ChordSegment]:
    return [ChordSegment(str(label), float(start), float(end)) for label, start, end in rows]


def _extract_task(path: str, settings: ExtractorSettings) -> dict[str, Any]:
    """Worker body: the cache record of one file (its duration and segments)."""
    samples = load_audio(path, settings.sample_rate, settings.silence_rms)
    segments = chordino(samples, settings)
    return {"duration": samples.size / settings.sample_rate, "segments": segments_to_json(segments)}


def extract_many(
    paths: Iterable[str | os.PathLike],
    cache_dir: str | os.PathLike,
    settings: ExtractorSettings = ExtractorSettings(),
    workers: int | None = None,
    stop_on_error: bool = False,
    progress: bool = True,
) -> ExtractionReport:
    """Extract chords from many files in parallel, through a resumable cache.

    Args:
        paths: audio files; results are keyed by ``str(path)`` as given (duplicates run once).
        cache_dir: folder of cache records (created if missing).
        settings: extraction settings; part of every record's key.
        workers: worker processes; ``None`` means all cores, ``1`` runs in this process.
        stop_on_error: raise the first :class:`AudioError` instead of recording it.
        progress: show a progress bar and print a final summary line on stderr.

    Raises:
        AudioError: only with ``stop_on_error``.
    """
    started = time.perf_counter()
    cache = RecordCache(cache_dir, kind="chords", settings_key=settings.cache_key())
    results: list[TaskResult] = run_cached(
        _extract_task,
        [str(path) for path in paths],
        cache,
        task_args=(settings,),
        workers=workers,
        stop_on_error=stop_on_error,
        progress=progress,
        description="chords",
    )
    report = ExtractionReport()
    for result in results:
        if result.error is not None:
            report.failures.append((result.path, result.error))
            continue
        report.chords[result.path] = segments_from_json(result.record["segments"])
        if result.cached:
            report.cached += 1
        elif result.copy:
            report.copies += 1
        else:
            report.extracted += 1
            report.audio_seconds += float(result.record["duration"])
    report.seconds = time.perf_counter() - started
    if progress:
        print(f"chord extraction: {report.summary()}", file=sys.stderr)
    return report
