"""Every model of the registry behind the one scoring interface."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from coat_tf.config import ItemKnnConfig, ModelConfig
from coat_tf.models import (
    MODELS,
    ItemKnnRecommender,
    MissingContentError,
    PopularityRecommender,
    Unsupported,
    WmfRecommender,
    WmfTrainer,
    build_gmf_model,
    build_mlp_model,
    build_neumf_model,
    get_spec,
    load_pretrained,
    song_tables,
)
from coat_tf.models.audio import mfcc_table, pool_mfcc
from coat_tf.models.recommender import pairwise_score_all
from coat_tf.models.wmf import confidence_matrix

KERAS_MODELS = [name for name, spec in MODELS.items() if spec.trainer == "keras"]
USERS, SONGS, CHORDS, COEFFICIENTS, FRAMES = 9, 31, 12, 6, 40


def _config(size: int = 8, **kwargs) -> ModelConfig:
    return ModelConfig(
        num_users=USERS,
        num_songs=SONGS,
        num_chords=CHORDS,
        embedding_size=size,
        mfcc_coefficients=COEFFICIENTS,
        mfcc_frames=FRAMES,
        mfcc_pool=4,
        **kwargs,
    )


def _raw_mfcc(rows: int, seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, COEFFICIENTS, FRAMES)).astype("float32")


def _tables(config: ModelConfig) -> dict[str, np.ndarray]:
    chords = np.random.default_rng(1).integers(0, CHORDS, (SONGS, 100)).astype("int32")
    return {"chord_ids": chords, "mfcc": mfcc_table(_raw_mfcc(SONGS), config.mfcc_pool)}


def _recommender(name: str, size: int = 8, steps: int = 1):  # noqa: ANN202
    """Model ``name`` after ``steps`` Adam steps on random pairs, and its recommender."""
    config = _config(size)
    spec = get_spec(name)
    model = spec.build(config)
    tables = _tables(config)
    recommender = spec.wrap(model, config, tables)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.001), loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    users = rng.integers(0, USERS, 64).astype("int32")
    songs = rng.integers(0, SONGS, 64).astype("int32")
    labels = (rng.random(64) < 0.5).astype("float32")
    batch = recommender.features(users, songs)
    losses = [float(model.train_on_batch(batch, labels)) for _ in range(steps)]
    return recommender, model, losses


def test_the_registry_holds_every_model_of_the_paper() -> None:
    assert set(MODELS) == {
        "coat",
        "coat-uniform",
        "coat-ones",
        "coat-song-dropout",
        "gmf",
        "mlp",
        "neumf",
        "neumf-cnn",
        "neumf-lstm",
        "wmf",
        "popularity",
        "itemknn",
        "chord-histogram",
        "random",
    }
    with pytest.raises(ValueError, match="unknown model 'bpr'.*coat"):
        get_spec("bpr")


@pytest.mark.parametrize("size", [8, 16, 32, 64])
@pytest.mark.parametrize("name", KERAS_MODELS)
def test_builds_and_takes_training_steps(name: str, size: int) -> None:
    recommender, model, losses = _recommender(name, size, steps=5)
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    scores = recommender.score_pairs(np.arange(USERS), np.arange(USERS)).numpy()
    assert scores.shape == (USERS,) and np.all((scores > 0) & (scores < 1))


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_fast_full_catalogue_scores_equal_the_pairwise_ones(name: str) -> None:
    recommender, model, _ = _recommender(name)
    users = tf.constant([0, 4, 8])
    fast = recommender.score_all(users).numpy()
    assert fast.shape == (3, SONGS)
    np.testing.assert_allclose(fast, pairwise_score_all(recommender, users).numpy(), atol=1e-6)
    # and the pairs equal the Keras model called directly on gathered inputs
    songs = np.arange(SONGS, dtype=np.int32)
    direct = model(recommender.features(np.full(SONGS, 4, np.int32), songs)).numpy()
    np.testing.assert_allclose(fast[1], direct, atol=1e-6)


@pytest.mark.parametrize("spread", [30.0, 1e4])
def test_coat_full_catalogue_scores_with_widely_spread_attention_scores(spread: float) -> None:
    """``score_all`` shifts the attention scores by the user's best (chord, position) score
    rather than by each song's: with spreads of tens of units it still equals the model, and
    with spreads far beyond ``exp_floor`` every score stays finite. The scores are linear in
    the score vector, which is scaled to give the spread asked whatever the random draw."""
    recommender, model, _ = _recommender("coat")
    layer = recommender.attention_layer
    users = tf.constant([0, 4, 8])
    chords = _tables(_config())["chord_ids"][:3]

    def logit_spread() -> float:
        logits = layer.scores(tf.gather(recommender.attention_users, users), chords)
        return float(tf.reduce_max(logits) - tf.reduce_min(logits))

    layer.score_vector.assign(layer.score_vector * (spread / logit_spread()))
    assert logit_spread() == pytest.approx(spread, rel=1e-3)
    fast = recommender.score_all(users).numpy()
    assert np.all(np.isfinite(fast)) and np.all((fast >= 0) & (fast <= 1))
    if spread < 100:
        pairwise = pairwise_score_all(recommender, users).numpy()
        np.testing.assert_allclose(fast, pairwise, atol=1e-5)


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_saved_weights_reload_to_the_same_scores(name: str, tmp_path) -> None:
    recommender, model, _ = _recommender(name)
    model.save_weights(str(tmp_path / "weights"))
    config = _config()
    spec = get_spec(name)
    again = spec.build(config)
    again.load_weights(str(tmp_path / "weights")).expect_partial()
    restored = spec.wrap(again, config, _tables(config))
    users = tf.constant([1, 2])
    np.testing.assert_allclose(
        restored.score_all(users).numpy(), recommender.score_all(users).numpy(), atol=1e-6
    )


def test_ncf_shapes_follow_the_predictive_factors() -> None:
    """For F factors: GMF embeddings F, MLP embeddings 4F each, hidden layers 4F, 2F, F."""
    config = _config(16)
    neumf = build_neumf_model(config)
    assert neumf.get_layer("gmf").user_embeddings.shape == (USERS, 16)
    assert neumf.get_layer("mlp_user_embedding").embeddings.shape == (USERS, 64)
    assert neumf.get_layer("mlp_song_embedding").embeddings.shape == (SONGS, 64)
    kernels = [w.shape for w in neumf.get_layer("mlp_tower").weights if "kernel" in w.name]
    assert kernels == [(128, 64), (64, 32), (32, 16)]
    assert neumf.get_layer("prediction").kernel.shape == (32, 1)
    mlp = build_mlp_model(config)
    assert mlp.get_layer("prediction").kernel.shape == (16, 1)


def test_pretraining_combines_gmf_and_mlp() -> None:
    """With alpha = 1 NeuMF predicts what the GMF does, with alpha = 0 what the MLP does."""
    config = _config(8)
    gmf, mlp = build_gmf_model(config), build_mlp_model(config)
    batch = {"user_id": np.arange(USERS), "song_id": np.arange(USERS) % SONGS}
    for alpha, reference in ((1.0, gmf), (0.0, mlp)):
        neumf = build_neumf_model(config)
        load_pretrained(neumf, gmf, mlp, alpha=alpha)
        np.testing.assert_allclose(neumf(batch).numpy(), reference(batch).numpy(), atol=1e-6)
    neumf = build_neumf_model(config)
    load_pretrained(neumf, gmf, mlp, alpha=0.5)
    h_gmf, b_gmf = gmf.get_layer("prediction").get_weights()
    h_mlp, b_mlp = mlp.get_layer("prediction").get_weights()
    kernel, bias = neumf.get_layer("prediction").get_weights()
    np.testing.assert_allclose(kernel, np.concatenate([h_gmf, h_mlp]) / 2)
    np.testing.assert_allclose(bias, (b_gmf + b_mlp) / 2)
    with pytest.raises(ValueError, match="pre-trained GMF does not fit"):
        load_pretrained(neumf, build_gmf_model(_config(16)), mlp)


def test_audio_models_score_new_songs_from_raw_mfccs() -> None:
    """A new song: both song embeddings replaced by the catalogue's mean, its own audio."""
    recommender, model, _ = _recommender("neumf-cnn", steps=2)
    raw = _raw_mfcc(4, seed=9)
    users = np.array([0, 3, 5, 8], np.int32)
    got = recommender.score_new_songs(users, raw).numpy()
    copy = tf.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for table in (
        copy.get_layer("gmf").song_embeddings,
        copy.get_layer("mlp_song_embedding").embeddings,
    ):
        table.assign(tf.repeat(tf.reduce_mean(table, 0, keepdims=True), SONGS, 0))
    want = copy(
        {"user_id": users, "song_id": np.zeros(4, np.int32), "mfcc": pool_mfcc(raw, 4)}
    ).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.std(recommender.score_new_songs(np.zeros(4, np.int32), raw).numpy()) > 0


@pytest.mark.parametrize("name", ["gmf", "mlp", "neumf", "neumf-cnn"])
def test_embedding_init_std_draws_every_embedding_table_as_ncf_does(name: str) -> None:
    """NCF's code draws every embedding from N(0, 0.01); by default GMF's tables are N(0,
    0.05) and the MLP's U(-0.05, 0.05) (Keras' defaults)."""
    tf.keras.utils.set_random_seed(0)
    ncf_like = get_spec(name).build(_config(64, embedding_init_std=0.01))
    default = get_spec(name).build(_config(64))
    tables = [w.name for w in ncf_like.weights if "embedding" in w.name]
    assert len(tables) == {"gmf": 2, "mlp": 2}.get(name, 4)
    for table in tables:
        drawn = next(w for w in ncf_like.weights if w.name == table).numpy()
        assert abs(drawn.std() - 0.01) < 0.002 and abs(drawn.mean()) < 0.002, table
        before = next(w for w in default.weights if w.name == table).numpy()
        if "mlp" in table:
            assert np.abs(before).max() <= 0.05 and before.std() > 0.025, table  # uniform
        else:
            assert abs(before.std() - 0.05) < 0.01, table
    with pytest.raises(ValueError, match="embedding_init_std"):
        _config(8, embedding_init_std=0.0)


def test_pool_mfcc_averages_frames_time_first() -> None:
    mfcc = np.arange(2 * 3 * 9, dtype="float32").reshape(2, 3, 9)
    pooled = pool_mfcc(mfcc, 4).numpy()
    assert pooled.shape == (2, 2, 3)
    np.testing.assert_allclose(pooled[1, 0], mfcc[1, :, :4].mean(axis=1))
    np.testing.assert_allclose(pooled[0, 1], mfcc[0, :, 4:8].mean(axis=1))
    np.testing.assert_allclose(mfcc_table(np.concatenate([mfcc] * 3), 4, chunk=2)[5], pooled[1])


def test_capabilities_are_declared_and_refused_clearly() -> None:
    gmf, _, _ = _recommender("gmf")
    assert not gmf.has_attention and gmf.content_input is None
    with pytest.raises(Unsupported, match="no chord attention"):
        gmf.attention([0], np.zeros((1, 100), np.int32))
    with pytest.raises(Unsupported, match="reads no song content"):
        gmf.score_new_songs([0], np.zeros((1, 100), np.int32))
    mlp, _, _ = _recommender("mlp")
    with pytest.raises(Unsupported, match="not a dot-product model"):
        mlp.dot_product_tables()
    coat, _, _ = _recommender("coat")
    assert coat.has_attention and coat.content_input == "chord_ids"


class _Data:
    """The attributes of a prepared data set that ``song_tables`` reads."""

    def __init__(self, has_chords: bool, mfcc: np.ndarray | None) -> None:
        import pandas as pd

        self.path = "/data/set"
        self.num_songs = SONGS
        self.chords = np.ones((SONGS, 100), np.int32)
        self.songs = pd.DataFrame({"has_chords": [int(has_chords)] * SONGS})
        self.mfcc = mfcc


def test_missing_content_names_the_table_and_the_prepare_option() -> None:
    config = _config()
    with pytest.raises(MissingContentError, match="no song of /data/set.*has_chords.*audio_path"):
        song_tables(get_spec("coat"), _Data(False, None), config)
    with pytest.raises(MissingContentError, match="no mfcc.npy.*--mfcc"):
        song_tables(get_spec("neumf-lstm"), _Data(True, None), config)
    assert song_tables(get_spec("neumf"), _Data(False, None), config) == {}
    tables = song_tables(get_spec("neumf-cnn"), _Data(True, _raw_mfcc(SONGS)), config)
    assert tables["mfcc"].shape == (SONGS, FRAMES // 4, COEFFICIENTS)


def _planted_interactions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two user groups and two song groups: group g's users play most of group g's songs."""
    rng = np.random.default_rng(0)
    users, songs = [], []
    for user in range(40):
        group = user % 2
        mine = np.arange(group * 30, group * 30 + 30)
        for song in rng.choice(mine, 20, replace=False):
            users.append(user)
            songs.append(song)
    plays = rng.integers(1, 5, len(users))
    return np.array(users), np.array(songs), plays


def test_wmf_ranks_each_groups_songs_first() -> None:
    users, songs, plays = _planted_interactions()
    config = dataclasses.replace(_config().wmf, regularization=0.1, alpha=2.0)
    confidence = confidence_matrix(users, songs, plays, 40, 60, config)
    assert confidence.shape == (40, 60)
    assert confidence[users[0], songs[0]] == pytest.approx(1 + 2.0 * plays[0])
    trainer = WmfTrainer(confidence, 2, config, seed=0)
    for _ in range(10):
        trainer.step()
    recommender = WmfRecommender(*trainer.factors())
    scores = recommender.score_all(np.arange(40)).numpy()
    for user in range(40):
        # among the songs the user never played, the 10 of their own group come first
        unplayed = np.setdiff1d(np.arange(60), songs[users == user])
        top = unplayed[np.argsort(-scores[user, unplayed])[:10]]
        assert np.all(top // 30 == user % 2), user
    np.testing.assert_allclose(
        recommender.score_pairs([3, 3], [0, 59]).numpy(), scores[3, [0, 59]], atol=1e-6
    )
    assert not recommender.score_is_probability


def test_wmf_factors_save_and_load(tmp_path) -> None:
    rng = np.random.default_rng(1)
    recommender = WmfRecommender(rng.normal(size=(5, 3)), rng.normal(size=(7, 3)))
    recommender.save(tmp_path / "factors.npz")
    again = WmfRecommender.load(tmp_path / "factors.npz")
    np.testing.assert_array_equal(again.score_all([0, 4]).numpy(), recommender.score_all([0, 4]))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_xla_is_not_used_on_cpu_for_the_mfcc_models() -> None:
    from coat_tf.runner import use_xla

    strategy = tf.distribute.get_strategy()
    assert not tf.config.list_logical_devices("GPU")  # the tests run on CPU
    assert use_xla(True, get_spec("coat"), strategy)
    assert use_xla(True, get_spec("neumf"), strategy)
    assert not use_xla(True, get_spec("neumf-cnn"), strategy)
    assert not use_xla(True, get_spec("neumf-lstm"), strategy)
    assert not use_xla(False, get_spec("coat"), strategy)


def test_coat_full_catalogue_with_many_chords_takes_the_gather_path() -> None:
    """Above ``MAX_PRODUCT_CHORDS`` chords the mix by chord is a gather and a segment sum
    instead of matrix products: the same scores either way."""
    from coat_tf.models.coat import CoatRecommender

    chords = CoatRecommender.MAX_PRODUCT_CHORDS + 16
    config = dataclasses.replace(_config(), num_chords=chords)
    model = get_spec("coat").build(config)
    table = np.random.default_rng(3).integers(0, chords, (SONGS, 100)).astype("int32")
    recommender = CoatRecommender(model, USERS, SONGS, {"chord_ids": table})
    assert recommender.grid_index is not None
    users = tf.constant([0, 3, 5])
    np.testing.assert_allclose(
        recommender.score_all(users).numpy(),
        pairwise_score_all(recommender, users).numpy(),
        atol=1e-6,
    )


@pytest.mark.parametrize("name", ["neumf-cnn", "neumf-lstm"])
def test_audio_pairs_encode_each_song_once_and_score_as_the_model(name: str) -> None:
    """``score_pairs`` encodes the distinct songs of a call and gathers their content vectors:
    the Keras model's scores, whatever the order and repetition of the songs."""
    recommender, model, _ = _recommender(name, steps=3)
    rng = np.random.default_rng(5)
    users = rng.integers(0, USERS, 200).astype("int32")
    songs = rng.choice([0, 3, 3, SONGS - 1, 7], 200).astype("int32")
    direct = model(recommender.features(users, songs), training=False).numpy()
    np.testing.assert_allclose(recommender.score_pairs(users, songs).numpy(), direct, atol=1e-6)
    encoded = []
    encoder_call = recommender.encoder.call
    recommender.encoder.call = lambda x, **kw: encoded.append(x.shape[0]) or encoder_call(x, **kw)
    try:
        recommender.score_pairs(users, songs)
    finally:
        del recommender.encoder.call
    assert encoded == [4]


#: Four users' songs: song 0 has users {0, 1, 3}, song 1 {0, 2, 3}, song 2 {1, 2}, song 3 {2, 3}.
BY_HAND = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 1], [1, 1, 0, 1]])


def _by_hand_pairs() -> tuple[np.ndarray, np.ndarray]:
    users, songs = np.nonzero(BY_HAND)
    return np.r_[users, 0, 0], np.r_[songs, 1, 1]  # a repeated pair counts once


def _fitted(name: str, neighbours: int = 4) -> PopularityRecommender | ItemKnnRecommender:
    config = ModelConfig(num_users=4, num_songs=4, itemknn=ItemKnnConfig(neighbours=neighbours))
    return get_spec(name).fitted.fit(*_by_hand_pairs(), config)


def test_popularity_scores_each_song_by_its_training_listeners_for_everyone() -> None:
    recommender = _fitted("popularity")
    expected = [3.0, 3.0, 2.0, 2.0]  # the column sums of BY_HAND
    np.testing.assert_array_equal(recommender.score_all([0, 3]).numpy(), [expected, expected])
    np.testing.assert_array_equal(recommender.score_pairs([0, 1, 2], [2, 0, 3]).numpy(), [2, 3, 2])
    assert not recommender.score_is_probability


def test_popularity_ties_count_against_it() -> None:
    from coat_tf.evaluation import sampled

    recommender = _fitted("popularity")
    # song 0 (3 listeners) against song 1 (3, a tie) and song 2 (2): rank 1, not 0
    result = sampled(recommender, np.array([1]), np.array([[0, 1, 2]]), k=1)
    assert result.hr == 0.0
    result = sampled(recommender, np.array([1]), np.array([[0, 2, 3]]), k=1)
    assert result.hr == 1.0


def test_itemknn_cosine_by_hand() -> None:
    recommender = _fitted("itemknn")
    third, half = 1 / np.sqrt(6), 0.5  # |U_0 & U_2| / sqrt(3 * 2); |U_2 & U_3| / sqrt(2 * 2)
    similarity = np.array(
        [
            [1, 2 / 3, third, third],
            [2 / 3, 1, third, 2 * third],
            [third, third, 1, half],
            [third, 2 * third, half, 1],
        ]
    )
    state = recommender.arrays()
    dense = np.zeros((4, 4))
    for row in range(4):
        start, stop = state["similarity_splits"][row : row + 2]
        dense[row, state["similarity_songs"][start:stop]] = state["similarity_values"][start:stop]
    np.testing.assert_allclose(dense, similarity, rtol=1e-6)
    # user 0 has songs 0 and 1: the sums of their rows
    np.testing.assert_allclose(
        recommender.score_all([0]).numpy()[0], similarity[0] + similarity[1], rtol=1e-6
    )


def test_itemknn_keeps_k_neighbours_per_song_itself_included() -> None:
    recommender = _fitted("itemknn", neighbours=2)
    # each song keeps itself and its nearest: 0 -> 1 (2/3), 1 -> 3 and 3 -> 1 (2/sqrt 6),
    # 2 -> 3 (1/2); user 0 (songs 0, 1) reaches song 3 through song 1 only, song 2 not at all
    scores = recommender.score_all([0, 1]).numpy()
    np.testing.assert_allclose(scores[0], [1, 1 + 2 / 3, 0, 2 / np.sqrt(6)], rtol=1e-6)
    np.testing.assert_allclose(scores[1], [1, 2 / 3, 1, 0.5], rtol=1e-6)
    np.testing.assert_allclose(recommender.score_pairs([0, 1], [2, 3]).numpy(), [0, 0.5])


def _random_interactions(users: int = 30, songs: int = 50, per_user: int = 8):  # noqa: ANN202
    rng = np.random.default_rng(5)
    picks = [rng.choice(songs, rng.integers(0, per_user + 1), replace=False) for _ in range(users)]
    user_ids = np.concatenate([np.full(len(p), u) for u, p in enumerate(picks)])
    return (
        user_ids,
        np.concatenate(picks),
        ModelConfig(num_users=users, num_songs=songs, itemknn=ItemKnnConfig(neighbours=6)),
    )


@pytest.mark.parametrize("name", ["popularity", "itemknn"])
def test_fitted_whole_catalogue_scores_equal_the_pairwise_ones(name: str) -> None:
    users, songs, config = _random_interactions()
    recommender = get_spec(name).fitted.fit(users, songs, config)
    ids = tf.constant(np.arange(config.num_users, dtype=np.int32))
    fast = recommender.score_all(ids).numpy()
    assert fast.shape == (config.num_users, config.num_songs)
    np.testing.assert_allclose(fast, pairwise_score_all(recommender, ids).numpy(), atol=1e-5)
    assert fast.std() > 0
    if name == "itemknn":  # a user with no training songs scores every song 0
        empty = np.setdiff1d(np.arange(config.num_users), users)
        assert len(empty) and not fast[empty].any()


@pytest.mark.filterwarnings("ignore:Method expects CSR input")
def test_itemknn_scores_are_implicits_own() -> None:
    import scipy.sparse as sp
    from implicit.nearest_neighbours import CosineRecommender

    users, songs, config = _random_interactions()
    recommender = ItemKnnRecommender.fit(users, songs, config)
    matrix = sp.csr_matrix((np.ones(len(users), np.float32), (users, songs)), shape=(30, 50))
    reference = CosineRecommender(K=6, num_threads=1)
    reference.fit(matrix, show_progress=False)
    scores = recommender.score_all(np.arange(30)).numpy()
    for user in range(30):
        ids, values = reference.recommend(
            user, matrix[user], N=50, filter_already_liked_items=False
        )
        expected = np.zeros(50)
        expected[ids] = values
        np.testing.assert_allclose(scores[user], expected, atol=1e-5)


@pytest.mark.parametrize("name", ["popularity", "itemknn"])
def test_fitted_state_saves_and_loads(name: str, tmp_path) -> None:
    users, songs, config = _random_interactions()
    recommender = get_spec(name).fitted.fit(users, songs, config)
    recommender.save(tmp_path / "state.npz")
    again = get_spec(name).fitted.load(tmp_path / "state.npz")
    ids = np.arange(config.num_users)
    np.testing.assert_array_equal(again.score_all(ids).numpy(), recommender.score_all(ids))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("name", ["popularity", "itemknn"])
def test_fitted_models_refuse_new_songs_and_attention(name: str) -> None:
    recommender = _fitted(name)
    assert recommender.content_input is None and not recommender.has_attention
    with pytest.raises(Unsupported, match="reads no song content"):
        recommender.score_new_songs([0], np.zeros((1, 100), np.int32))
    with pytest.raises(Unsupported, match="no chord attention"):
        recommender.attention([0], np.zeros((1, 100), np.int32))
    with pytest.raises(Unsupported, match="not a dot-product model"):
        recommender.dot_product_tables()


def test_fitted_models_refuse_bad_tables() -> None:
    config = ModelConfig(num_users=4, num_songs=4)
    with pytest.raises(ValueError, match=r"song indices must lie in \[0, 4\), got 0..4"):
        ItemKnnRecommender.fit(np.array([0, 1]), np.array([0, 4]), config)
    state = _fitted("itemknn").arrays()
    state["similarity_songs"] = state["similarity_songs"] + 10
    with pytest.raises(ValueError, match="item-kNN tables are inconsistent"):
        ItemKnnRecommender.from_arrays(state)
    with pytest.raises(ValueError, match="finite non-negative"):
        PopularityRecommender(np.array([1.0, np.nan]), num_users=2)
