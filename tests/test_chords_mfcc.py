"""MFCC excerpts: fixed shape, excerpt position, looping, cache."""

from __future__ import annotations

import numpy as np
import pytest

from coat_tf.chords.extract import AudioError
from coat_tf.chords.mfcc import MfccSettings, excerpt, mfcc_file, mfcc_many
from tests.test_chords_extract import SAMPLE_RATE, bad_files, chord_tones, write_audio


def test_excerpt_middle_start_and_loop() -> None:
    samples = np.arange(10, dtype=np.float32)
    assert excerpt(samples, 4, "middle").tolist() == [3, 4, 5, 6]
    assert excerpt(samples, 4, "start").tolist() == [0, 1, 2, 3]
    assert excerpt(samples[:3], 7).tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_shape_is_fixed_whatever_the_length(tmp_path) -> None:
    settings = MfccSettings(excerpt_seconds=4.0)
    assert settings.frames == 1 + round(4.0 * SAMPLE_RATE) // 512
    short = write_audio(tmp_path / "short.wav", chord_tones(seconds=0.5))  # 2 s, looped
    long = write_audio(tmp_path / "long.ogg")  # 6 s, cut
    for path in (short, long):
        features = mfcc_file(path, settings)
        assert features.shape == (20, settings.frames)
        assert features.dtype == np.float32
        assert np.isfinite(features).all()


def test_middle_excerpt_matches_librosa(tmp_path) -> None:
    import librosa

    path = write_audio(tmp_path / "song.wav", chord_tones())  # 6 s
    samples, _ = librosa.load(path, sr=SAMPLE_RATE)
    settings = MfccSettings(excerpt_seconds=2.0, n_mfcc=13)
    begin = (samples.size - 2 * SAMPLE_RATE) // 2
    expected = librosa.feature.mfcc(
        y=samples[begin : begin + 2 * SAMPLE_RATE], sr=SAMPLE_RATE, n_mfcc=13
    )
    np.testing.assert_allclose(mfcc_file(path, settings), expected, rtol=1e-4, atol=1e-3)


def test_many_is_cached_and_records_failures(tmp_path) -> None:
    settings = MfccSettings(excerpt_seconds=3.0)
    good = [write_audio(tmp_path / "a.wav"), write_audio(tmp_path / "b.mp3")]
    bad = bad_files(tmp_path)
    paths = [*good, bad["silent"], bad["missing"]]
    first = mfcc_many(paths, tmp_path / "cache", settings, workers=1, progress=False)
    assert (first.extracted, first.cached) == (2, 0)
    assert [p for p, _ in first.failures] == [str(bad["silent"]), str(bad["missing"])]
    second = mfcc_many(paths, tmp_path / "cache", settings, workers=1, progress=False)
    assert (second.extracted, second.cached) == (0, 2)
    for path in good:
        np.testing.assert_array_equal(first.features[str(path)], second.features[str(path)])
        assert second.features[str(path)].shape == (20, settings.frames)
    other = MfccSettings(excerpt_seconds=2.0)
    assert mfcc_many(good, tmp_path / "cache", other, workers=1, progress=False).extracted == 2
    with pytest.raises(AudioError, match="silent"):
        mfcc_many(
            paths[:3], tmp_path / "cache", settings, workers=1, stop_on_error=True, progress=False
        )


def test_settings_checked() -> None:
    with pytest.raises(ValueError, match="position"):
        MfccSettings(position="end")
    with pytest.raises(ValueError, match="n_mfcc"):
        MfccSettings(n_mfcc=0)
    assert MfccSettings().cache_key() != MfccSettings(n_mfcc=13).cache_key()
