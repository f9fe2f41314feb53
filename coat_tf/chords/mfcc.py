"""MFCCs of a fixed-length excerpt of each song, for the audio baselines (cached like chords).

The excerpt is ``excerpt_seconds`` long, taken from the middle of the song (``position=
"middle"``, the part most likely to be the body of the song, like a store preview) or from its
start (``"start"``). A song shorter than the excerpt is looped (repeated from its start) to fill
it, rather than padded with silence, whose log-mel energies would dominate the coefficients.

Every excerpt has ``excerpt_samples = round(excerpt_seconds * sample_rate)`` samples, so every
result has the same shape ``[n_mfcc, frames]`` with ``frames = 1 + excerpt_samples //
hop_length`` (librosa's centred frames). Bad files raise the same
:class:`~coat_tf.chords.extract.AudioError` as chord extraction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coat_tf.chords.cache import RecordCache, run_cached
from coat_tf.chords.extract import load_audio

MFCC_VERSION = 1
POSITIONS = ("middle", "start")


@dataclass(frozen=True)
class MfccSettings:
    """MFCC settings.

    Attributes:
        sample_rate: Hz; audio is resampled to this first.
        n_mfcc: coefficients per frame.
        excerpt_seconds: length of the excerpt.
        position: ``"middle"`` or ``"start"`` of the song.
        n_fft: FFT window, samples.
        hop_length: frame step, samples.
        n_mels: mel bands before the DCT.
        silence_rms: a file whose mono RMS is below this is rejected as silent.
    """

    sample_rate: int = 22050
    n_mfcc: int = 20
    excerpt_seconds: float = 30.0
    position: str = "middle"
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    silence_rms: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_mfcc", "n_fft", "hop_length", "n_mels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.excerpt_seconds > 0:
            raise ValueError(f"excerpt_seconds must be positive, got {self.excerpt_seconds!r}")
        if self.position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {self.position!r}")
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc ({self.n_mfcc}) must not exceed n_mels ({self.n_mels})")

    @property
    def excerpt_samples(self) -> int:
        return round(self.excerpt_seconds * self.sample_rate)

    @property
    def frames(self) -> int:
        """Frames per result: ``1 + excerpt_samples // hop_length``."""
        return 1 + self.excerpt_samples // self.hop_length

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def cache_key(self) -> str:
        """Stable 16-hex-digit hash of every setting and the MFCC code version."""
        payload = json.dumps({"mfcc": MFCC_VERSION, **self.to_dict()}, sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


def excerpt(samples: np.ndarray, length: int, position: str = "middle") -> np.ndarray:
    """``length`` samples from the middle or start of ``samples``, looped if too short."""
    if samples.size >= length:
        begin = (samples.size - length) // 2 if position == "middle" else 0
        return samples[begin : begin + length]
    return np.tile(samples, -(-length // samples.size))[:length]


def mfcc_file(path: str | os.PathLike, settings: MfccSettings = MfccSettings()) -> np.ndarray:
    """MFCCs of one file's excerpt (no cache).

    Returns:
        float32 array ``[n_mfcc, settings.frames]``.

    Raises:
        AudioError: the file is missing, empty, unreadable or silent.
    """
    import librosa

    samples = load_audio(path, settings.sample_rate, settings.silence_rms)
    clip = excerpt(samples, settings.excerpt_samples, settings.position)
    features = librosa.feature.mfcc(
        y=clip,
        sr=settings.sample_rate,
        n_mfcc=settings.n_mfcc,
        n_fft=settings.n_fft,
        hop_length=settings.hop_length,
        n_mels=settings.n_mels,
    )
    return features.astype(np.float32)


def _mfcc_task(path: str, settings: MfccSettings) -> np.ndarray:
    return mfcc_file(path, settings)


@dataclass
class MfccReport:
    """What :func:`mfcc_many` did.

    Attributes:
        features: ``str(path)`` as given -> float32 ``[n_mfcc, frames]``, for every success.
        failures: ``(path, reason)`` for every file that failed, in input order.
        extracted: distinct files computed in this call; cached: files read from the cache;
        copies: files with the same content as another input of this call (computed once).
        seconds: wall-clock time of the call.
    """

    features: dict[str, np.ndarray] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    extracted: int = 0
    cached: int = 0
    copies: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        copies = f", {self.copies} copies of others" if self.copies else ""
        return (
            f"{len(self.features)} songs ({self.extracted} computed, {self.cached} cached"
            f"{copies}), "
            f"{len(self.failures)} failed, in {self.seconds:.1f} s"
        )


def mfcc_many(
    paths: Iterable[str | os.PathLike],
    cache_dir: str | os.PathLike,
    settings: MfccSettings = MfccSettings(),
    workers: int | None = None,
    stop_on_error: bool = False,
    progress: bool = True,
) -> MfccReport:
    """MFCCs of many files in parallel, through a resumable cache (as ``extract_many``).

    Raises:
        AudioError: only with ``stop_on_error``.
    """
    started = time.perf_counter()
    cache = RecordCache(
        cache_dir, kind="mfcc", settings_key=settings.cache_key(), record_format="npy"
    )
    results = run_cached(
        _mfcc_task,
        [str(path) for path in paths],
        cache,
        task_args=(settings,),
        workers=workers,
        stop_on_error=stop_on_error,
        progress=progress,
        description="mfcc",
    )
    report = MfccReport()
    expected = (settings.n_mfcc, settings.frames)
    for result in results:
        if result.error is not None:
            report.failures.append((result.path, result.error))
        elif result.record.shape != expected:  # a record from elsewhere; should not happen
            report.failures.append((result.path, f"cached MFCC shape {result.record.shape}"))
        else:
            report.features[result.path] = result.record.astype(np.float32, copy=False)
            report.cached += int(result.cached)
            report.copies += int(result.copy)
            report.extracted += int(not result.cached and not result.copy)
    report.seconds = time.perf_counter() - started
    if progress:
        print(f"mfcc: {report.summary()}", file=sys.stderr)
    return report
