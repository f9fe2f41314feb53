"""The simulated demo data set: format, determinism, caching and the planted structure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coat_tf.demo import (
    DemoConfig,
    Song,
    build_demo,
    chord_shares,
    get_demo,
    make_catalogue,
    over_representation,
    simulate_listening,
)

TINY = DemoConfig(num_songs=12, num_users=40, song_seconds=6.0, min_songs=5, mean_extra_songs=2.0)


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo_cache")


@pytest.fixture(scope="module")
def tiny(cache_root: Path) -> Path:
    return get_demo(TINY, cache_root=cache_root, workers=1)


def read_events(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "events.tsv", sep="\t", dtype={"timestamp": np.int64})


def test_folder_holds_the_documented_files(tiny: Path) -> None:
    for name in ("events.tsv", "catalogue.tsv", "chords.tsv", "planted.json", "README.txt"):
        assert (tiny / name).is_file(), name
    assert len(list((tiny / "audio").glob("*.flac"))) == TINY.num_songs
    assert "SIMULATED" in (tiny / "README.txt").read_text()
    settings = json.loads((tiny / "demo_config.json").read_text())
    assert "SIMULATED" in settings["description"]
    assert settings["demo"] == TINY.to_dict()
    catalogue = pd.read_csv(tiny / "catalogue.tsv", sep="\t")
    assert list(catalogue.columns) == ["track_id", "key", "family", "chords", "tempo", "seconds"]
    assert len(catalogue) == TINY.num_songs


def test_events_format_and_increasing_time(tiny: Path) -> None:
    events = read_events(tiny)
    assert list(events.columns) == ["user_id", "track_id", "timestamp", "audio_path"]
    assert events["user_id"].nunique() == TINY.num_users
    for _, group in events.groupby("user_id", sort=False):
        assert np.all(np.diff(group["timestamp"].to_numpy()) > 0)
        assert group["track_id"].nunique() >= TINY.min_songs
    for path in events["audio_path"].unique():
        assert (tiny / path).is_file()
    span = (TINY.start_timestamp, TINY.start_timestamp + TINY.span_days * 86400)
    assert events["timestamp"].between(*span).all()


def test_extraction_ran_and_mostly_agrees(tiny: Path) -> None:
    planted = json.loads((tiny / "planted.json").read_text())
    assert planted["extraction"]["songs"] == TINY.num_songs
    assert planted["extraction"]["failures"] == []
    # Measured 0.90 here (6 s songs); 0.947 on the default 300-song build.
    assert planted["extraction"]["majmin_agreement_mean"] > 0.7
    chords = pd.read_csv(tiny / "chords.tsv", sep="\t")
    assert set(chords["track_id"]) == {f"t{i:02d}" for i in range(TINY.num_songs)}


def test_build_is_deterministic_and_get_demo_caches(tiny: Path, cache_root: Path) -> None:
    again = build_demo(
        cache_root / "again", TINY, workers=1, chord_cache_dir=cache_root / "chord_cache"
    )
    for name in ("events.tsv", "catalogue.tsv", "chords.tsv", "planted.json"):
        assert (again / name).read_bytes() == (tiny / name).read_bytes(), name
    for audio in (tiny / "audio").glob("*.flac"):
        assert (again / "audio" / audio.name).read_bytes() == audio.read_bytes()
    stamp = (tiny / "events.tsv").stat().st_mtime_ns
    assert get_demo(TINY, cache_root=cache_root, workers=1) == tiny
    assert (tiny / "events.tsv").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError):
        build_demo(again, TINY, workers=1)


def test_seed_changes_the_data() -> None:
    a = simulate_listening(make_catalogue(TINY), TINY)
    other = DemoConfig(**{**TINY.to_dict(), "seed": 1})
    b = simulate_listening(make_catalogue(other), other)
    assert TINY.key() != other.key()
    assert not (len(a.songs) == len(b.songs) and np.array_equal(a.songs, b.songs))


def test_chord_shares_count_changes() -> None:
    pop = Song(
        "a",
        "x",
        "C:maj",
        120.0,
        (),
        tuple(
            (float(i), float(i + 1), c) for i, c in enumerate(["C:maj", "G:maj", "A:min", "F:maj"])
        ),
    )
    blues = [0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7]
    names = {0: "C:maj", 5: "F:maj", 7: "G:maj"}
    twelve = Song(
        "b",
        "x",
        "C:maj",
        120.0,
        (),
        tuple((float(i), float(i + 1), names[s]) for i, s in enumerate(blues)),
    )
    shares = chord_shares([pop, twelve], ["A:min", "C:maj", "E:min"])
    # Blues changes: C F C G F C G -> C holds 3 of 7.
    np.testing.assert_allclose(shares, [[0.25, 0.25, 0.0], [0.0, 3 / 7, 0.0]])


def test_planted_listeners_over_represent_their_chord() -> None:
    config = DemoConfig(num_songs=240, num_users=900)
    songs = make_catalogue(config)
    listening = simulate_listening(songs, config)
    carriers = np.bincount(listening.planted[listening.planted >= 0], minlength=3)
    assert carriers.sum() == pytest.approx(config.planted_user_share * config.num_users, rel=0.2)
    for chord, measured in over_representation(listening).items():
        assert measured["ratio"] > 1.6, (chord, measured)
    # Without the planted term the same draw shows no such preference.
    flat = DemoConfig(num_songs=240, num_users=900, planted_strength=0.0)
    for chord, measured in over_representation(simulate_listening(songs, flat)).items():
        assert 0.75 < measured["ratio"] < 1.33, (chord, measured)


def test_planted_json_names_carriers(tiny: Path) -> None:
    planted = json.loads((tiny / "planted.json").read_text())
    assert planted["chords"] == list(TINY.planted_chords)
    assert planted["strength"] == TINY.planted_strength
    carriers = [u for users in planted["users"].values() for u in users]
    assert len(carriers) == len(set(carriers))
    assert set(carriers) <= set(read_events(tiny)["user_id"])
    for chord, shares in planted["song_share"].items():
        assert all(0 < share <= 1 for share in shares.values()), chord


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="planted_chords"):
        DemoConfig(planted_chords=("Em",))
    with pytest.raises(ValueError, match="min_songs"):
        DemoConfig(num_songs=10, min_songs=15)
