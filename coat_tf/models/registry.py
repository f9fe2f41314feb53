"""One name per model, for ``--model``, the experiments and the tuner.

Each :class:`ModelSpec` says how to build the model, which song content it reads, how it is
trained (``"keras"``: Adam or SGD on sampled negatives; ``"als"``: WMF's alternating least
squares; ``"one_pass"``: fitted once from the training pairs, no epochs: popularity,
item-kNN, chord-histogram and random) and how to wrap it in the scoring interface
(:class:`~coat_tf.models.recommender.Recommender`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from coat_tf.config import MODEL_ATTENTION_MODES, MODEL_SONG_DROPOUT, ModelConfig
from coat_tf.models.audio import AudioRecommender, build_neumf_audio_model, mfcc_table
from coat_tf.models.chord_histogram import ChordHistogramRecommender
from coat_tf.models.coat import CoatRecommender, build_coat_model
from coat_tf.models.fitted import FittedRecommender
from coat_tf.models.gmf import GmfRecommender, build_gmf_model
from coat_tf.models.inputs import CHORD_IDS, MFCC
from coat_tf.models.itemknn import ItemKnnRecommender
from coat_tf.models.ncf import build_mlp_model, build_neumf_model
from coat_tf.models.popularity import PopularityRecommender
from coat_tf.models.random_baseline import RandomRecommender
from coat_tf.models.recommender import KerasRecommender, Recommender
from coat_tf.models.wmf import SEARCH_GRID as WMF_GRID

#: The paper's hyperparameter grid, searched for every model trained by Keras
#: (``python -m tuning.search``): each key is a :class:`~coat_tf.config.RunConfig` field path,
#: each value the values tried (4 x 4 x 4 = 64 combinations). WMF has its own
#: (:data:`coat_tf.models.wmf.SEARCH_GRID`).
PAPER_GRID: dict[str, tuple] = {
    "train.batch_size": (128, 256, 512, 1024),
    "train.learning_rate": (0.0001, 0.0005, 0.001, 0.005),
    "model.embedding_size": (8, 16, 32, 64),
}

#: Item-kNN's grid: the neighbourhood size ``K`` around its default of 100. Popularity has
#: nothing to search, nor have chord-histogram and random.
ITEMKNN_GRID: dict[str, tuple] = {"model.itemknn.neighbours": (20, 50, 100, 200)}


class MissingContentError(ValueError):
    """The model reads song content (chords, MFCCs) that the data set does not have."""


@dataclass(frozen=True)
class ModelSpec:
    """How to build, train and score one model.

    Attributes:
        name: the ``--model`` name.
        summary: one line for ``--help`` and the tables.
        build: ``ModelConfig -> tf.keras.Model`` (None for models not trained by Keras).
        content: the song content it reads (``"chord_ids"``, ``"mfcc"``) or None. (``random``
            reads none, yet scores new songs from any content: its recommender's
            ``content_input`` is ``"chord_ids"``.)
        trainer: ``"keras"``, ``"als"`` or ``"one_pass"``.
        recommender: ``(model, config, song_tables) -> Recommender`` for Keras models.
        fitted: the :class:`~coat_tf.models.fitted.FittedRecommender` class of a
            ``"one_pass"`` model (its ``fit``, ``save`` and ``load``).
        grid: its hyperparameter grid for the tuner (``RunConfig`` field path -> values).
        xla_on_cpu: whether XLA (``TrainConfig.jit_compile``) is used for its training step
            on CPU. False for the MFCC models: on CPU, XLA ran NeuMF+LSTM's training step 22 to
            28 times and NeuMF+CNN's 1.7 to 2.2 times slower than TensorFlow's own kernels
            (d = 8, batch 1024, side by side; README "Performance").
    """

    name: str
    summary: str
    build: Callable[[ModelConfig], tf.keras.Model] | None
    content: str | None = None
    trainer: str = "keras"
    recommender: Callable[..., Recommender] | None = None
    fitted: type[FittedRecommender] | None = None
    grid: Mapping[str, tuple] = dataclasses.field(
        default_factory=lambda: dict(PAPER_GRID), hash=False
    )
    xla_on_cpu: bool = True

    def wrap(
        self, model: tf.keras.Model, config: ModelConfig, song_tables: Mapping[str, np.ndarray]
    ) -> Recommender:
        """The scoring interface of a Keras ``model`` built by this spec."""
        factory = self.recommender or _generic
        return factory(model, config, song_tables)


def _generic(model, config: ModelConfig, tables) -> Recommender:  # noqa: ANN001
    return KerasRecommender(model, config.num_users, config.num_songs, tables)


def _coat(name: str) -> Callable[[ModelConfig], tf.keras.Model]:
    """COAT with the attention mode that model ``name`` stands for, whatever ``config`` says
    (:data:`~coat_tf.config.MODEL_ATTENTION_MODES`; a :class:`RunConfig` records it), and
    the name's song dropout where ``config`` sets none (:data:`~coat_tf.config.
    MODEL_SONG_DROPOUT`)."""
    mode = MODEL_ATTENTION_MODES[name]
    song_dropout = MODEL_SONG_DROPOUT.get(name, 0.0)

    def build(config: ModelConfig) -> tf.keras.Model:
        changes = {"attention_mode": mode}
        if not config.song_dropout:
            changes["song_dropout"] = song_dropout
        return build_coat_model(dataclasses.replace(config, **changes))

    return build


def _audio(kind: str) -> Callable[[ModelConfig], tf.keras.Model]:
    def build(config: ModelConfig) -> tf.keras.Model:
        return build_neumf_audio_model(config, kind)

    return build


def _coat_recommender(model, config: ModelConfig, tables) -> Recommender:  # noqa: ANN001
    return CoatRecommender(model, config.num_users, config.num_songs, tables)


def _gmf_recommender(model, config: ModelConfig, tables) -> Recommender:  # noqa: ANN001
    return GmfRecommender(model, config.num_users, config.num_songs, song_tables=tables)


def _audio_recommender(model, config: ModelConfig, tables) -> Recommender:  # noqa: ANN001
    shape = (config.mfcc_coefficients, config.mfcc_frames)
    return AudioRecommender(
        model, config.num_users, config.num_songs, tables, shape, config.mfcc_pool
    )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "coat", "COAT: GMF and chord attention, then a tower", _coat("coat"), CHORD_IDS,
            recommender=_coat_recommender,
        ),
        ModelSpec(
            "coat-uniform", "COAT without attention: mean chord embedding", _coat("coat-uniform"),
            CHORD_IDS, recommender=_coat_recommender,
        ),
        ModelSpec(
            "coat-ones", "COAT without attention: every weight 1 (the paper's)", _coat("coat-ones"),
            CHORD_IDS, recommender=_coat_recommender,
        ),
        ModelSpec(
            "coat-song-dropout",
            "COAT trained with song dropout (DropoutNet): a song's embedding is the mean one "
            f"with probability {MODEL_SONG_DROPOUT['coat-song-dropout']} unless set",
            _coat("coat-song-dropout"), CHORD_IDS,
            recommender=_coat_recommender,
        ),
        ModelSpec("gmf", "GMF (NCF)", build_gmf_model, recommender=_gmf_recommender),
        ModelSpec("mlp", "MLP (NCF)", build_mlp_model),
        ModelSpec("neumf", "NeuMF (NCF)", build_neumf_model),
        ModelSpec(
            "neumf-cnn", "NeuMF with a CNN over MFCCs", _audio("cnn"), MFCC,
            recommender=_audio_recommender, xla_on_cpu=False,
        ),
        ModelSpec(
            "neumf-lstm", "NeuMF with an LSTM over MFCCs", _audio("lstm"), MFCC,
            recommender=_audio_recommender, xla_on_cpu=False,
        ),
        ModelSpec(
            "wmf", "WMF (Hu et al.), alternating least squares", None, trainer="als",
            grid=WMF_GRID,
        ),
        ModelSpec(
            "popularity", "songs by their number of training listeners, the same for everyone",
            None, trainer="one_pass", fitted=PopularityRecommender, grid={},
        ),
        ModelSpec(
            "itemknn", "item-kNN: cosine similarity to the user's songs (implicit)", None,
            trainer="one_pass", fitted=ItemKnnRecommender, grid=ITEMKNN_GRID,
        ),
        ModelSpec(
            "chord-histogram", "cosine of the user's mean chord histogram and the song's", None,
            CHORD_IDS, trainer="one_pass", fitted=ChordHistogramRecommender, grid={},
        ),
        ModelSpec(
            "random", "seeded random scores (a hash of seed, user and song)", None,
            trainer="one_pass", fitted=RandomRecommender, grid={},
        ),
    )
}  # fmt: skip


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` called ``name``; ``ValueError`` naming the choices otherwise."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def build_model(name: str, config: ModelConfig) -> tf.keras.Model:
    """The Keras model called ``name`` (one of :data:`MODELS`), shaped by ``config``."""
    spec = get_spec(name)
    if spec.build is None:
        raise ValueError(f"model {name!r} is not a Keras model (trainer {spec.trainer!r})")
    return spec.build(config)


def song_tables(spec: ModelSpec, data, config: ModelConfig) -> dict[str, np.ndarray]:  # noqa: ANN001
    """The per-song content tables ``spec``'s model reads, from a prepared data set.

    Raises:
        MissingContentError: the data set lacks the content (no song has chords, or there is
            no ``mfcc.npy``), naming the missing table and the ``prepare`` option that makes it.
    """
    if spec.content == CHORD_IDS:
        has = data.songs["has_chords"].to_numpy() if "has_chords" in data.songs else None
        if has is not None and not has.any():
            raise MissingContentError(
                f"model {spec.name!r} reads chord sequences, but no song of {data.path} has "
                f"any (songs.tsv: has_chords is 0 for all {data.num_songs} songs, chords.npy "
                "holds only the unknown chord): prepare the data from events with an "
                "audio_path column (python -m coat_tf.data prepare --source events ...), so "
                "that chords are extracted"
            )
        return {CHORD_IDS: np.asarray(data.chords, dtype=np.int32)}
    if spec.content == MFCC:
        if data.mfcc is None:
            raise MissingContentError(
                f"model {spec.name!r} reads MFCCs, but {data.path} has no mfcc.npy: prepare "
                "the data again with --mfcc (python -m coat_tf.data prepare ... --mfcc; on "
                "the demo data, python -m coat_tf.train --mfcc)"
            )
        return {MFCC: mfcc_table(data.mfcc, config.mfcc_pool)}
    return {}


def content_shapes(data) -> dict[str, int]:  # noqa: ANN001
    """The ``ModelConfig`` sizes a data set fixes (ids, chords, MFCC shape)."""
    shapes = {
        "num_users": data.num_users,
        "num_songs": data.num_songs,
        "num_chords": data.num_chords,
        "sequence_length": data.sequence_length,
    }
    if data.mfcc is not None:
        shapes["mfcc_coefficients"] = int(data.mfcc.shape[1])
        shapes["mfcc_frames"] = int(data.mfcc.shape[2])
    return shapes
