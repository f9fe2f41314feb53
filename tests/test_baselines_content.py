"""The baselines that can rank new songs: chord-histogram (chord content) and random."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from coat_tf import evaluation
from coat_tf.chords.sequence import fix_length
from coat_tf.chords.vocabulary import ChordVocabulary
from coat_tf.config import ModelConfig
from coat_tf.models import ChordHistogramRecommender, RandomRecommender, get_spec
from coat_tf.models.recommender import pairwise_score_all
from coat_tf.train import main
from tests.tiny_data import prepare_tiny

VOCABULARY = ChordVocabulary.from_name("majmin")
LENGTH = 12


def row(*labels: str) -> np.ndarray:
    """A song's chord row from its changes, repeated to :data:`LENGTH` as ``prepare`` does."""
    return fix_length([VOCABULARY.encode(label) for label in labels], LENGTH)


# ----------------------------------------------------------------------------- chord-histogram

#: Planted user 0 trains on songs 0-3 (chords C, G, Am, F only); song 4 uses the same chords
#: in another order and proportions; songs 5-11 use other chords, some sharing one or two of
#: them; song 12 has no chord. Users 1 and 2 have other tastes.
SONGS = [
    row("C", "G", "Am", "F"),
    row("C", "F", "G"),
    row("Am", "F", "C", "G", "C"),
    row("G", "C", "Am"),
    row("F", "Am", "G", "C", "F"),  # 4: held out for user 0
    row("D", "A", "Bm", "G"),
    row("E", "B", "C#m", "A"),
    row("Eb", "Bb", "Cm", "Ab"),
    row("C", "Dm", "Em", "Bb", "Eb", "Gm"),
    row("Am", "Dm", "E", "Bm", "F#m"),
    row("D", "Em", "A"),
    row("F#", "C#", "D#m", "B"),
    fix_length([], LENGTH),  # 12: no chord at all
]
TRAIN = {0: [0, 1, 2, 3], 1: [5, 6, 7], 2: [8, 9, 10, 11, 12]}
CANDIDATES = [4, 5, 6, 7, 8, 9, 10, 11, 12]


def _pairs(train: dict[int, list[int]]) -> tuple[np.ndarray, np.ndarray]:
    users = np.concatenate([np.full(len(s), u) for u, s in train.items()])
    return users, np.concatenate([np.asarray(s) for s in train.values()])


def _histogram_model(
    chords: list[np.ndarray] = SONGS, train: dict[int, list[int]] = TRAIN
) -> ChordHistogramRecommender:
    table = np.stack(chords).astype(np.int32)
    config = ModelConfig(
        num_users=len(train), num_songs=len(table), num_chords=len(VOCABULARY),
        sequence_length=LENGTH,
    )  # fmt: skip
    spec = get_spec("chord-histogram")
    return spec.fitted.fit(*_pairs(train), config, song_tables={"chord_ids": table})


def test_chord_histogram_ranks_a_song_of_the_users_chords_first_by_every_path() -> None:
    model = _histogram_model()
    users = np.zeros(len(CANDIDATES), np.int32)
    pairs = model.score_pairs(users, np.asarray(CANDIDATES)).numpy()
    every = model.score_all([0]).numpy()[0]
    new = model.score_new_songs(users, np.stack([SONGS[s] for s in CANDIDATES])).numpy()
    assert np.argmax(pairs) == 0 and np.sum(pairs >= pairs[0]) == 1  # first, and no tie
    assert pairs[0] > 0.8 > pairs[1:].max() and pairs[-1] == 0  # no chord: 0
    np.testing.assert_allclose(every[CANDIDATES], pairs, atol=1e-6)
    np.testing.assert_allclose(new, pairs, atol=1e-6)
    # through the evaluator, sampled and whole catalogue
    assert evaluation.sampled(model, np.array([0]), np.array([CANDIDATES]), k=1).hr == 1.0
    others = np.setdiff1d(np.arange(len(SONGS)), CANDIDATES)
    full = evaluation.full_catalogue(model, np.array([0]), np.array([4]), [others], k=1)
    assert full.hr == 1.0
    # a new song of those chords beats new songs of others, and its catalogue twin ties it
    rows = np.stack([row("Am", "C", "F", "G"), row("D", "A", "G"), row("Bb", "F", "C")])
    scores = model.score_new_songs(np.zeros(3, np.int32), rows).numpy()
    assert np.argmax(scores) == 0 and scores[0] > scores[1:].max()
    assert model.score_new_songs(np.zeros(0, np.int32), rows[:0]).numpy().shape == (0,)


def test_chord_histogram_by_hand() -> None:
    """User 0: songs "C G" and "C F", histograms (1/2 C, 1/2 G) and (1/2 C, 1/2 F), profile
    (1/2 C, 1/4 G, 1/4 F); song "C" alone has histogram (1 C): cosine 1/2 / sqrt(3/8). N is
    not counted (a song with chords and N), a repeated training pair counts once, and a user
    whose songs have no chord scores 0 everywhere."""
    chords = [row("C", "G"), row("C", "F"), row("C"), fix_length([], LENGTH), row("G")]
    chords[2][::3] = 0  # some N among the C: still the histogram (1 C)
    users, songs = _pairs({0: [0, 1, 1], 1: [3]})
    table = np.stack(chords).astype(np.int32)
    config = ModelConfig(num_users=2, num_songs=5, num_chords=25, sequence_length=LENGTH)
    model = ChordHistogramRecommender.fit(users, songs, config, song_tables={"chord_ids": table})
    profile = np.zeros(25)
    profile[[VOCABULARY.encode("C"), VOCABULARY.encode("G"), VOCABULARY.encode("F")]] = (
        [0.5, 0.25, 0.25]
    )  # fmt: skip
    np.testing.assert_allclose(model.profiles.numpy()[0], profile, atol=1e-7)
    scores = model.score_all([0, 1]).numpy()
    cosine = 0.5 / np.sqrt(0.375)
    pair = 0.375 / (np.sqrt(0.375) * np.sqrt(0.5))  # (1/4 + 1/8) / (|p| |h|)
    expected = [pair, pair, cosine, 0.0, 0.25 / np.sqrt(0.375)]
    np.testing.assert_allclose(scores[0], expected, atol=1e-6)
    assert not scores[1].any()
    np.testing.assert_allclose(scores, pairwise_score_all(model, tf.constant([0, 1])), atol=1e-6)


def test_chord_histogram_saves_loads_and_needs_chords(tmp_path: Path) -> None:
    model = _histogram_model()
    model.save(tmp_path / "state.npz")
    again = ChordHistogramRecommender.load(tmp_path / "state.npz")
    np.testing.assert_array_equal(again.score_all([0, 1, 2]), model.score_all([0, 1, 2]))
    np.testing.assert_array_equal(again.song_chords([4]).numpy()[0], SONGS[4])
    assert again.content_input == "chord_ids" and not again.has_attention
    config = ModelConfig(num_users=3, num_songs=len(SONGS))
    with pytest.raises(ValueError, match="needs the catalogue's chord ids"):
        ChordHistogramRecommender.fit(*_pairs(TRAIN), config)
    with pytest.raises(ValueError, match=r"chord ids must lie in \[0, 3\)"):
        ChordHistogramRecommender(np.zeros((2, 3)), np.array([[0, 3]]))


# ----------------------------------------------------------------------------------- random

_GOLDEN = 0x9E3779B97F4A7C15


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _absorb(state: np.ndarray, value: np.ndarray) -> np.ndarray:
    return _mix(state ^ _mix(value + np.uint64(_GOLDEN)))


def reference_random_scores(seed: int, users, songs) -> np.ndarray:  # noqa: ANN001
    """The documented hash in numpy: ``hash(seed, "catalogue", u, i)`` as a float64."""
    with np.errstate(over="ignore"):
        key = _mix(np.array([seed], np.int64).view(np.uint64))
        users = np.atleast_1d(np.asarray(users, np.int64)).view(np.uint64)
        songs = np.atleast_1d(np.asarray(songs, np.int64)).view(np.uint64)
        state = _absorb(_absorb(key, np.array([1], np.uint64)), users)
        bits = _absorb(state, songs) >> np.uint64(11)
    return bits.astype(np.float64) / 2.0**53


def _random(seed: int, users: int = 50, songs: int = 300) -> RandomRecommender:
    config = ModelConfig(num_users=users, num_songs=songs)
    return RandomRecommender.fit(np.array([0]), np.array([0]), config, seed=seed)


def test_random_is_the_documented_hash_reproducible_and_seeded() -> None:
    model = _random(7)
    every = model.score_all(np.arange(50)).numpy()
    assert every.dtype == np.float64 and every.shape == (50, 300)
    assert np.all((every >= 0) & (every < 1))
    users, songs = np.repeat(np.arange(50), 300), np.tile(np.arange(300), 50)
    np.testing.assert_array_equal(model.score_pairs(users, songs).numpy(), every.reshape(-1))
    np.testing.assert_array_equal(every.reshape(-1), reference_random_scores(7, users, songs))
    np.testing.assert_array_equal(_random(7).score_all(np.arange(50)).numpy(), every)
    other = _random(8).score_all(np.arange(50)).numpy()
    assert np.mean(other == every) < 1e-3
    assert len(np.unique(every)) == every.size  # no tie among 15,000 scores
    assert abs(every.mean() - 0.5) < 0.01
    # a user's scores do not depend on the batch it is scored in
    np.testing.assert_array_equal(model.score_all([3]).numpy()[0], every[3])


def test_random_scores_new_songs_from_their_content_deterministically() -> None:
    model = _random(3)
    chords = np.random.default_rng(0).integers(0, 25, (6, 100)).astype(np.int32)
    users = np.array([0, 0, 0, 1, 1, 1], np.int32)
    scores = model.score_new_songs(users, chords).numpy()
    assert len(np.unique(scores)) == 6 and np.all((scores >= 0) & (scores < 1))
    # the same (user, row) anywhere in any batch, as int32 or int64, gets the same score
    again = model.score_new_songs(users[::-1], chords[::-1].astype(np.int64)).numpy()
    np.testing.assert_array_equal(again, scores[::-1])
    np.testing.assert_array_equal(model.score_new_songs([1], chords[4:5]).numpy(), scores[4:5])
    # another user, one changed chord or another seed: another score
    assert model.score_new_songs([1], chords[:1]).numpy()[0] != scores[0]
    changed = chords[:1].copy()
    changed[0, 50] = (changed[0, 50] + 1) % 25
    assert model.score_new_songs([0], changed).numpy()[0] != scores[0]
    assert _random(4).score_new_songs([0], chords[:1]).numpy()[0] != scores[0]
    assert model.score_new_songs(np.zeros(0, np.int32), chords[:0]).numpy().shape == (0,)
    # any content: MFCC frames too, by their bits
    frames = np.random.default_rng(1).normal(size=(2, 4, 8)).astype(np.float32)
    first = model.score_new_songs([0, 0], frames).numpy()
    np.testing.assert_array_equal(model.score_new_songs([0, 0], frames).numpy(), first)
    assert first[0] != first[1]


def test_random_ranks_a_held_out_song_about_one_time_in_ten_among_100() -> None:
    """HR@10 among 1 + 99 candidates is 0.1 in expectation, NDCG@10 0.01 * sum 1/log2(r + 2);
    with 5,000 users one standard deviation is 0.004 and 0.0023."""
    rng = np.random.default_rng(2)
    items = np.stack([rng.choice(3000, 100, replace=False) for _ in range(5000)])
    users = np.arange(5000)
    expected_ndcg = 0.01 * np.sum(1 / np.log2(np.arange(10) + 2))
    for seed in (0, 1, 2):
        model = _random(seed, users=5000, songs=3000)
        result = evaluation.sampled(model, users, items, k=10)
        assert 0.085 < result.hr < 0.115
        assert abs(result.ndcg - expected_ndcg) < 0.009


def test_random_saves_and_loads(tmp_path: Path) -> None:
    model = _random(11)
    model.save(tmp_path / "state.npz")
    again = RandomRecommender.load(tmp_path / "state.npz")
    np.testing.assert_array_equal(again.score_all([0, 9]).numpy(), model.score_all([0, 9]))
    content = np.ones((1, 100), np.int32)
    assert again.score_new_songs([2], content).numpy() == model.score_new_songs([2], content)


# ------------------------------------------------------------------- through python -m train


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return prepare_tiny(tmp_path_factory.mktemp("tiny"))


@pytest.mark.parametrize("model", ["random", "chord-histogram"])
def test_content_baselines_train_load_evaluate_and_export(
    model: str, tiny: Path, tmp_path: Path, capsys
) -> None:
    from coat_tf.recommend import main as recommend
    from coat_tf.trained import load_recommender

    run_dir, saved = tmp_path / "run", tmp_path / "saved"
    argv = ["--data", str(tiny), "--model", model, "--run-dir", str(run_dir), "--quiet"]
    assert main([*argv, "--export-dir", str(saved), "--seed", "3"]) == 0
    assert "fitted in one pass" in capsys.readouterr().out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["model"] == model and metrics["epochs"] == 0
    for split in ("sampled", "full_catalogue"):
        assert metrics["test"][split]["users"] == 80
        assert 0 <= metrics["test"][split]["ndcg"] <= metrics["test"][split]["hr"] <= 1
    if model == "random":  # 80 users: a loose bound around 0.1
        assert 0.03 <= metrics["test"]["sampled"]["hr"] <= 0.2
    _, again = load_recommender(run_dir)
    from coat_tf.data import PreparedDataset

    data = PreparedDataset.load(tiny)
    result = evaluation.sampled(again, data.test.users, data.test.items, k=10)
    assert result.hr == pytest.approx(metrics["test"]["sampled"]["hr"])
    assert again.content_input == "chord_ids"
    new = again.score_new_songs(data.test.users[:4], data.chords[:4]).numpy()
    assert new.shape == (4,) and np.all(np.isfinite(new))
    if model == "random":
        grid = np.meshgrid(data.test.users[:3], np.arange(data.num_songs), indexing="ij")
        expected = reference_random_scores(3, *grid).reshape(3, -1)  # the run's --seed 3
        np.testing.assert_array_equal(again.score_all(data.test.users[:3]).numpy(), expected)
    user = (tiny / "users.tsv").read_text().splitlines()[1].split("\t")[-1]
    assert (
        recommend(["--model", str(saved / again.name), "--user", user, "--k", "3", "--json"]) == 0
    )
    assert len(json.loads(capsys.readouterr().out)["recommendations"]) == 3
    assert recommend(["--model", str(saved / again.name), "--user", user, "--explain"]) == 2
    assert "no chord attention" in capsys.readouterr().err


def test_content_baselines_run_in_an_experiment(tiny: Path, tmp_path: Path) -> None:
    import csv

    from coat_tf.experiments.__main__ import main as experiment

    out = tmp_path / "fig2"
    models = ["--models", "random", "chord-histogram", "--seeds", "0", "1", "--factors", "8"]
    assert experiment(["fig2", "--data", str(tiny), "--out", str(out), *models]) == 0
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((row["model"], row["seed"]) for row in rows) == [
        ("chord-histogram", "0"),
        ("chord-histogram", "1"),
        ("random", "0"),
        ("random", "1"),
    ]
    for row in rows:
        assert 0 <= float(row["sampled_ndcg"]) <= float(row["sampled_hr"]) <= 1
    seeds = [
        int(np.load(out / "runs" / "random" / "f8" / f"seed{seed}" / "best" / "state.npz")["seed"])
        for seed in (0, 1)
    ]
    assert seeds == [0, 1]  # each run draws from its own seed
