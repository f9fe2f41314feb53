"""New songs: the evaluator over ``score_new_songs``, the runner's block and ``recommend
--new-songs``, on new songs made by hand in the form of ``PreparedDataset.new_songs``."""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from coat_tf.data.splits import Candidates
from coat_tf.models.recommender import Recommender
from coat_tf.new_songs_evaluation import NewSongScorer, evaluate_new_songs
from tests.test_export import MFCC_SHAPE, tiny_data, trained


@dataclass
class HandMadeNewSongs:
    """The interface of ``coat_tf.data.new_songs.NewSongs``, built in memory."""

    ids: list[str]
    shelf: np.ndarray
    chords: np.ndarray
    mfcc: np.ndarray | None
    valid: Candidates
    test: Candidates

    def split(self, name: str) -> Candidates:
        return {"valid": self.valid, "test": self.test}[name]

    def shelf_songs(self, name: str) -> np.ndarray:
        return np.flatnonzero(self.shelf == name)

    def shelf_exclusions(self, name: str) -> list[np.ndarray]:
        split = self.split(name)
        others = np.flatnonzero(self.shelf != name)
        return [
            np.union1d(others, np.setdiff1d(split.positives[split.users == user], [song]))
            for user, song in zip(split.users, split.positives, strict=True)
        ]

    def content(self, name: str) -> np.ndarray | None:
        return {"chord_ids": self.chords, "mfcc": self.mfcc}[name]


def hand_made_new_songs(
    num_users: int,
    sequence_length: int,
    num_chords: int,
    songs_per_shelf: int = 6,
    negatives: int = 3,
    mfcc: bool = True,
    seed: int = 0,
) -> HandMadeNewSongs:
    """Two shelves of ``songs_per_shelf`` new songs with random chords (and MFCCs); each user
    has one or two songs of each shelf, one row each, with ``negatives`` of the shelf's songs
    the user does not have."""
    rng = np.random.default_rng(seed)
    count = 2 * songs_per_shelf
    shelf = np.array(["valid"] * songs_per_shelf + ["test"] * songs_per_shelf)
    splits = {}
    for offset, name in ((0, "valid"), (songs_per_shelf, "test")):
        users, items = [], []
        for user in range(num_users):
            mine = offset + rng.choice(songs_per_shelf, 1 + user % 2, replace=False)
            free = np.setdiff1d(np.arange(offset, offset + songs_per_shelf), mine)
            for song in mine:
                users.append(user)
                items.append([song, *rng.choice(free, negatives, replace=False)])
        splits[name] = Candidates(np.array(users, np.int32), np.array(items, np.int32))
    return HandMadeNewSongs(
        ids=[f"new{i}" for i in range(count)],
        shelf=shelf,
        chords=rng.integers(1, num_chords, (count, sequence_length)).astype(np.int32),
        mfcc=rng.normal(size=(count, *MFCC_SHAPE)).astype(np.float32) if mfcc else None,
        valid=splits["valid"],
        test=splits["test"],
    )


class ContentScorer(Recommender):
    """Scores a new song from its first chord id only, by a fixed function of the pair; with
    ``liked`` (user -> chord ids), 1 for a liked first chord and 0 otherwise."""

    content_input = "chord_ids"

    def __init__(self, num_users: int, liked: dict[int, set[int]] | None = None) -> None:
        super().__init__(num_users, 0, name="content_scorer")
        self.liked = liked

    def score_new_songs(self, user_ids: tf.Tensor, content: tf.Tensor) -> tf.Tensor:
        users = np.asarray(user_ids)
        first = np.asarray(content)[:, 0]
        if self.liked is not None:
            hits = [int(c) in self.liked[int(u)] for u, c in zip(users, first, strict=True)]
            return tf.constant(np.array(hits, np.float32))
        return tf.constant(np.round(np.sin(1.3 * users + 0.7 * first), 1).astype(np.float32))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("new_songs")
    data = tiny_data(folder)
    data.new_songs = hand_made_new_songs(data.num_users, data.sequence_length, data.num_chords)
    return {"data": data, "folder": folder}


def _holding(data, new_songs: HandMadeNewSongs | None):  # noqa: ANN001, ANN202
    """A shallow copy of ``data`` whose ``new_songs`` is ``new_songs``."""
    held = copy.copy(data)
    held.new_songs = new_songs
    return held


def _distinct_first_chords(new_songs: HandMadeNewSongs) -> HandMadeNewSongs:
    """Each song's first chord id is its index + 1, so that it names the song."""
    chords = new_songs.chords.copy()
    chords[:, 0] = np.arange(1, len(chords) + 1)
    return dataclasses.replace(new_songs, chords=chords)


@pytest.mark.parametrize("kind", ["coat", "neumf-cnn"])
def test_the_adapter_scores_as_score_new_songs(tiny, kind: str) -> None:
    data = tiny["data"]
    recommender, _ = trained(data, kind)
    content = data.new_songs.content(recommender.content_input)
    adapter = NewSongScorer(recommender, content)
    adapter.pair_chunk = 7  # several calls per batch
    users = np.repeat(np.arange(data.num_users, dtype=np.int32), len(content))
    songs = np.tile(np.arange(len(content), dtype=np.int32), data.num_users)
    expected = recommender.score_new_songs(tf.constant(users), tf.constant(content[songs]))
    np.testing.assert_allclose(adapter.score_pairs(users, songs).numpy(), expected, atol=1e-6)
    every = adapter.score_all(tf.range(data.num_users)).numpy()
    assert every.shape == (data.num_users, len(content))
    np.testing.assert_allclose(every.reshape(-1), expected, atol=1e-6)
    rows = np.array([3, 1, 3, 3, 0], np.int32)  # a user's rows repeat it, in any order
    np.testing.assert_allclose(adapter.score_all(rows).numpy(), every[rows], atol=1e-6)


def test_whole_shelf_is_the_rank_among_the_shelf_songs_the_user_has_not(tiny) -> None:
    data = tiny["data"]
    new_songs = _distinct_first_chords(data.new_songs)
    held = _holding(data, new_songs)
    model = ContentScorer(data.num_users)
    k = 2
    block = evaluate_new_songs(model, held, k)
    for name, title in (("valid", "validation"), ("test", "test")):
        split = new_songs.split(name)
        shelf = np.flatnonzero(new_songs.shelf == name)
        ranks = []
        for user, song in zip(split.users, split.positives, strict=True):
            scores = {int(s): float(np.round(np.sin(1.3 * user + 0.7 * (s + 1)), 1)) for s in shelf}
            mine = set(split.positives[split.users == user].tolist()) - {int(song)}
            rivals = [s for s in shelf if s != song and s not in mine]
            ranks.append(sum(scores[s] >= scores[int(song)] for s in rivals))
        ranks = np.array(ranks)
        whole = block[title]["whole_shelf"]
        assert whole["users"] == len(split)
        assert whole["hr"] == pytest.approx(np.mean(ranks < k))
        ndcg = np.where(ranks < k, 1 / np.log2(ranks + 2.0), 0.0).mean()
        assert whole["ndcg"] == pytest.approx(ndcg)
        assert 0 < whole["hr"] < 1  # the case tells ranks apart


def test_a_planted_scorer_finds_every_held_out_new_song(tiny) -> None:
    data = tiny["data"]
    new_songs = _distinct_first_chords(data.new_songs)
    held = _holding(data, new_songs)
    liked: dict[int, set[int]] = {u: set() for u in range(data.num_users)}
    for name in ("valid", "test"):
        split = new_songs.split(name)
        for user, song in zip(split.users, split.positives, strict=True):
            liked[int(user)].add(int(song) + 1)
    block = evaluate_new_songs(ContentScorer(data.num_users, liked), held, k=1)
    for title in ("validation", "test"):
        for kind in ("sampled", "whole_shelf"):
            assert block[title][kind]["hr"] == 1.0 == block[title][kind]["ndcg"], (title, kind)
    # without the user's other songs of the shelf excluded, they would tie and rank first
    assert max(len(e) for e in new_songs.shelf_exclusions("test")) > 6


def test_a_model_without_content_gets_the_unsupported_note(tiny) -> None:
    data = tiny["data"]
    recommender, _ = trained(data, "gmf")
    assert evaluate_new_songs(recommender, data, 10) == {
        "unsupported": "gmf reads no song content: it cannot rank new songs"
    }
    audio, _ = trained(data, "neumf-cnn")
    without = _holding(data, dataclasses.replace(data.new_songs, mfcc=None))
    note = evaluate_new_songs(audio, without, 10)["unsupported"]
    assert "reads MFCCs" in note and "prepare --mfcc" in note


def test_a_search_reads_the_valid_shelf_only_and_trivial_lists_are_said(tiny) -> None:
    data = tiny["data"]
    block = evaluate_new_songs(ContentScorer(data.num_users), data, 4, splits=("valid",))
    assert list(block) == ["validation"]
    # 4 sampled candidates per row and k = 4: every row is a hit, and the block says so
    assert block["validation"]["sampled"]["hr"] == 1.0
    assert "every row is a hit" in block["validation"]["sampled"]["note"]
    assert "note" not in block["validation"]["whole_shelf"]  # 6 songs on the shelf
    with pytest.raises(ValueError, match="no new songs"):
        evaluate_new_songs(ContentScorer(data.num_users), _holding(data, None), 4)


def test_train_and_evaluate_writes_the_new_songs_block(tmp_path: Path) -> None:
    from coat_tf import config as cfg
    from coat_tf.data import PreparedDataset
    from coat_tf.models.registry import content_shapes
    from coat_tf.runner import train_and_evaluate
    from coat_tf.train import summary
    from tests.tiny_data import prepare_tiny

    data = PreparedDataset.load(prepare_tiny(tmp_path))
    data.new_songs = hand_made_new_songs(
        data.num_users, data.sequence_length, data.num_chords, songs_per_shelf=20, negatives=12
    )
    model = cfg.ModelConfig(embedding_size=8, **content_shapes(data))
    train = cfg.TrainConfig(epochs=1, batch_size=512, jit_compile=False)
    run = cfg.RunConfig(model=model, train=train, model_name="coat", data_dir=str(data.path))
    options = {"full_catalogue": False, "verbose": False, "inspect": False}
    metrics, _ = train_and_evaluate(run, data, tmp_path / "run", **options)
    block = metrics["new_songs"]
    assert list(block) == ["validation", "test"]
    for title, name in (("validation", "valid"), ("test", "test")):
        for kind in ("sampled", "whole_shelf"):
            figures = block[title][kind]
            assert figures["users"] == len(data.new_songs.split(name))
            assert 0 <= figures["ndcg"] <= figures["hr"] <= 1 and "note" not in figures
    json.dumps(metrics)  # as metrics.json holds it
    line = [s for s in summary(run, metrics, tmp_path, data).splitlines() if "new songs" in s]
    assert line == [
        f"  new songs, test shelf (12 negatives, {block['test']['sampled']['users']} rows)  "
        f"HR {block['test']['sampled']['hr']:.4f}  NDCG {block['test']['sampled']['ndcg']:.4f};"
        f"  whole shelf  HR {block['test']['whole_shelf']['hr']:.4f}  "
        f"NDCG {block['test']['whole_shelf']['ndcg']:.4f}"
    ]
    # a search: the validation shelf only (the run is trained: only evaluated again)
    searched, _ = train_and_evaluate(run, data, tmp_path / "run", evaluate_on_test=False, **options)
    assert list(searched["new_songs"]) == ["validation"] and "test" not in searched
    for kind in ("hr", "ndcg"):
        assert searched["new_songs"]["validation"]["sampled"][kind] == pytest.approx(
            block["validation"]["sampled"][kind]
        )
    # without new songs, no block
    data.new_songs = None
    plain, _ = train_and_evaluate(run, data, tmp_path / "run", evaluate_on_test=False, **options)
    assert "new_songs" not in plain


@pytest.fixture(scope="module")
def exported(tiny) -> dict:
    from coat_tf.export import export_model

    data, folder = tiny["data"], tiny["folder"]
    paths = {}
    models = {}
    for kind in ("coat", "gmf", "neumf-cnn"):
        models[kind], run = trained(data, kind)
        paths[kind] = export_model(models[kind], data, run, out_root=folder / "saved_models")
    return {"paths": paths, "models": models}


def _with_new_songs(monkeypatch, data) -> None:  # noqa: ANN001
    """``PreparedDataset.load`` gives ``data`` (with its hand-made new songs)."""
    from coat_tf.data import PreparedDataset

    monkeypatch.setattr(PreparedDataset, "load", classmethod(lambda cls, path, **_: data))


def test_recommend_new_songs_ranks_only_new_songs_and_explains_them(
    tiny, exported, monkeypatch, capsys
) -> None:
    from coat_tf.recommend import main, top_chords

    data = tiny["data"]
    new_songs = data.new_songs
    model = exported["models"]["coat"]
    _with_new_songs(monkeypatch, data)
    user, k = 3, 4
    argv = ["--model", str(exported["paths"]["coat"]), "--user", data.user_ids[user]]
    code = main([*argv, "--k", str(k), "--new-songs", "--explain", "--top-chords", "2", "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["new_songs"] == len(new_songs.ids)
    found = payload["recommendations"]
    users = tf.fill([len(new_songs.ids)], user)
    scores = model.score_new_songs(users, tf.constant(new_songs.chords)).numpy()
    order = np.argsort(-scores, kind="stable")[:k]
    assert [r["index"] for r in found] == order.tolist()
    assert [r["song"] for r in found] == [new_songs.ids[s] for s in order]
    np.testing.assert_allclose([r["score"] for r in found], scores[order], atol=1e-5)
    weights = model.attention(users, tf.constant(new_songs.chords)).numpy()
    for rec in found:
        song = rec["index"]
        expected = top_chords(new_songs.chords[song], weights[song], data.vocabulary.labels, 2)
        assert [c["label"] for c in rec["chords"]] == [label for label, _ in expected]
    # the table, with more songs asked than there are: every new song, once
    assert main([*argv, "--k", "100", "--new-songs"]) == 0
    out = capsys.readouterr().out
    assert f"top 100 of the {len(new_songs.ids)} new songs" in out
    rows = [line.split()[1] for line in out.splitlines() if line[:4].strip().isdigit()]
    assert sorted(rows) == sorted(new_songs.ids)


def test_recommend_new_songs_refuses_a_model_without_content(tiny, exported, capsys) -> None:
    from coat_tf.recommend import main

    data = tiny["data"]
    argv = ["--model", str(exported["paths"]["gmf"]), "--user", data.user_ids[0], "--new-songs"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "gmf reads no song content" in err and "cannot rank new songs" in err


def test_recommend_new_songs_refuses_a_data_set_without_them(tiny, exported, capsys) -> None:
    from coat_tf.recommend import main

    data = tiny["data"]  # on disk: prepared without new songs
    argv = ["--model", str(exported["paths"]["coat"]), "--user", data.user_ids[0], "--new-songs"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {data.path}: the data set has no new songs")
    assert "--new-songs FRACTION" in err and len(err.strip().splitlines()) == 1


def test_recommend_new_songs_ranks_them_by_their_mfccs_for_an_audio_model(
    tiny, exported, monkeypatch, capsys
) -> None:
    from coat_tf.recommend import main

    data = tiny["data"]
    new_songs = data.new_songs
    model = exported["models"]["neumf-cnn"]
    _with_new_songs(monkeypatch, data)
    argv = ["--model", str(exported["paths"]["neumf-cnn"]), "--user", data.user_ids[5]]
    assert main([*argv, "--k", "3", "--new-songs", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["recommendations"]
    users = tf.fill([len(new_songs.ids)], 5)
    scores = model.score_new_songs(users, tf.constant(new_songs.mfcc)).numpy()
    assert [r["index"] for r in found] == np.argsort(-scores, kind="stable")[:3].tolist()
    # new songs without MFCCs: refused, naming --mfcc
    _with_new_songs(monkeypatch, _holding(data, dataclasses.replace(new_songs, mfcc=None)))
    assert main([*argv, "--new-songs"]) == 2
    err = capsys.readouterr().err
    assert "new songs have no MFCCs" in err and "--mfcc" in err
