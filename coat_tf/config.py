"""Run configuration as nested dataclasses with a JSON round trip.

Every run and every export writes its resolved configuration next to its outputs, so a result
can be traced to the exact settings. Nothing that shapes the model lives in a global: the model
is built from a :class:`ModelConfig` alone.

Validation raises ``ValueError`` naming the field and the bad value.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from coat_tf.checks import (
    check_choice,
    check_non_negative,
    check_non_negative_int,
    check_positive_int,
    check_probability,
)
from coat_tf.fileio import atomic_write_text

#: ``learned``: equations (2) to (4); ``uniform``: every weight ``1 / L`` (the mean chord
#: embedding); ``ones``: every weight 1 (the sum), the paper's literal ablation "without attention".
ATTENTION_MODES = ("learned", "uniform", "ones")
#: The seeds NumPy's and TensorFlow's generators take: 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1
#: The attention mode each COAT model name stands for (``RunConfig.model_name``): the name
#: decides it, and a run's config records it. These are the models that take a song dropout.
MODEL_ATTENTION_MODES = {
    "coat": "learned",
    "coat-uniform": "uniform",
    "coat-ones": "ones",
    "coat-song-dropout": "learned",
}
#: The song dropout (``ModelConfig.song_dropout``) a model name stands for unless its config
#: sets one: ``coat-song-dropout`` is COAT trained with ``p = 0.5``.
MODEL_SONG_DROPOUT = {"coat-song-dropout": 0.5}
USER_EMBEDDINGS = ("shared", "separate")
OPTIMIZERS = ("adam", "sgd")

T = TypeVar("T")


def _require(condition: bool, name: str, value: Any, what: str) -> None:
    if not condition:
        raise ValueError(f"{name} must be {what}, got {value!r}")


def _is_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (a bool is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class WmfConfig:
    """Weighted matrix factorisation (Hu, Koren & Volinsky, 2008) settings besides the factors.

    The confidence of an observed pair is ``c_ui = 1 + alpha * plays_ui`` (1 for the rest); the
    loss is ``sum_ui c_ui (p_ui - x_u . y_i)^2 + regularization (|x|^2 + |y|^2)``.

    Attributes:
        regularization: ``lambda``, the L2 penalty on the factors.
        alpha: confidence growth per play.
        log_plays: use ``log(1 + plays)`` instead of ``plays`` in the confidence (tames the
            heavy tail of play counts; Hu et al.'s log scaling uses ``epsilon = 1``).
    """

    regularization: float = 0.01
    alpha: float = 1.0
    log_plays: bool = False

    def __post_init__(self) -> None:
        check_non_negative("regularization", self.regularization)
        check_non_negative("alpha", self.alpha)
        _require(isinstance(self.log_plays, bool), "log_plays", self.log_plays, "true or false")


@dataclass
class ItemKnnConfig:
    """Item-based nearest neighbours (``--model itemknn``) settings.

    Attributes:
        neighbours: ``K``, the most similar songs kept per song (the song itself among them,
            as ``implicit`` counts it). 100, RecBole's default for its ItemKNN: with fewer, a
            song that a user's history does not reach scores 0 and ties with the rest; with
            more, the similarity table grows as ``num_songs x K``.
    """

    neighbours: int = 100

    def __post_init__(self) -> None:
        check_positive_int("neighbours", self.neighbours)


@dataclass
class ModelConfig:
    """Shape of a model: COAT and every baseline are built from one of these.

    ``embedding_size`` is the number of **predictive factors** ``F``, as the papers define them:
    COAT and GMF have embeddings of size ``F`` and COAT's tower ends in ``F`` units; the MLP
    (and NeuMF's MLP path) has embeddings of ``2^(tower_layers - 1) F`` each and hidden layers
    ``4F, 2F, F`` (NCF's ``layers = [8F, 4F, 2F, F]`` for three layers); WMF has ``F`` factors.

    Attributes:
        num_users: users in the id vocabulary (ids ``0 .. num_users - 1``).
        num_songs: songs in the id vocabulary.
        num_chords: chord vocabulary size (ids ``0 .. num_chords - 1``).
        sequence_length: chord positions per song; the paper uses 100.
        embedding_size: ``d``, the size of user, song and chord embeddings.
        attention_size: ``A``, the hidden size of the attention scorer (paper: equal to ``d``).
        tower_layers: number of hidden layers of the prediction tower (paper: 3).
        tower_width: width of the first tower layer; each next layer is half the previous one.
            ``None`` means ``2 ** (tower_layers - 1) * embedding_size``, so that the last layer
            has ``d`` units (NCF's "predictive factors"; for ``d = 8``: 32, 16, 8). A tower
            that halves down from the ``2d`` input instead ends in ``d / 4`` units (2 at
            ``d = 8``), and such a narrow layer can be dead for a whole batch at
            initialisation, leaving every weight without a gradient.
        attention_user_embedding: ``"shared"`` reuses the GMF user embedding ``P[u]`` as ``e_u``
            in the attention (the paper's choice); ``"separate"`` gives the attention its own.
        attention_mode: ``"learned"`` (equations 2 to 4), or ``"uniform"`` and ``"ones"`` (the
            ablations "without attention": every position weighs ``1 / L`` or 1). For COAT the
            model name decides it (:data:`MODEL_ATTENTION_MODES`, applied by :class:`RunConfig`).
        l2: L2 regularisation on the embeddings (0 disables it).
        embedding_init_std: for GMF, MLP, NeuMF and NeuMF+CNN/LSTM, every embedding table drawn
            from ``N(0, embedding_init_std)``, as NCF's code does with 0.01; ``None`` (the
            default) keeps the layers' own: ``N(0, 0.05)`` for GMF's tables, ``U(-0.05, 0.05)``
            for the MLP's (Keras' defaults). COAT does not read it.
        dropout: dropout rate between tower layers.
        song_dropout: COAT only: the probability ``p``, in ``[0, 1]``, that a training example's
            song embedding in the GMF term is replaced by the mean song embedding, the value a
            new song is scored with (DropoutNet, Volkovs et al., 2017; :class:`~coat_tf.layers.
            GMF`); 0 disables it. Model ``coat-song-dropout`` stands for 0.5 unless set
            (:data:`MODEL_SONG_DROPOUT`, applied by :class:`RunConfig`).
        mfcc_coefficients, mfcc_frames: shape of a song's MFCC excerpt (``n_mfcc x frames``), for
            the audio models; set from the data set.
        mfcc_pool: the audio models read the mean of every ``mfcc_pool`` consecutive frames
            (``mfcc_frames // mfcc_pool`` steps), which keeps the per-song table and the encoder
            small (:mod:`coat_tf.models.audio`).
        wmf: the WMF baseline's own settings.
        itemknn: the item-kNN baseline's own settings.
    """

    num_users: int = 1
    num_songs: int = 1
    num_chords: int = 25
    sequence_length: int = 100
    embedding_size: int = 64
    attention_size: int | None = None
    tower_layers: int = 3
    tower_width: int | None = None
    attention_user_embedding: str = "shared"
    attention_mode: str = "learned"
    l2: float = 0.0
    embedding_init_std: float | None = None
    dropout: float = 0.0
    song_dropout: float = 0.0
    mfcc_coefficients: int = 20
    mfcc_frames: int = 1292
    mfcc_pool: int = 8
    wmf: WmfConfig = field(default_factory=WmfConfig)
    itemknn: ItemKnnConfig = field(default_factory=ItemKnnConfig)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        names = ("num_users", "num_songs", "num_chords", "sequence_length", "embedding_size")
        for name in (*names, "mfcc_coefficients", "mfcc_frames", "mfcc_pool"):
            check_positive_int(name, getattr(self, name))
        if self.attention_size is not None:
            check_positive_int("attention_size", self.attention_size)
        check_positive_int("tower_layers", self.tower_layers)
        if self.tower_width is not None:
            check_positive_int("tower_width", self.tower_width)
            _require(
                self.tower_width >> (self.tower_layers - 1) >= 1,
                "tower_width",
                self.tower_width,
                f"at least 2**(tower_layers - 1) = {2 ** (self.tower_layers - 1)} so that "
                "every halved layer keeps a unit",
            )
        check_choice("attention_user_embedding", self.attention_user_embedding, USER_EMBEDDINGS)
        check_choice("attention_mode", self.attention_mode, ATTENTION_MODES)
        check_non_negative("l2", self.l2)
        if self.embedding_init_std is not None:
            _require(
                _is_number(self.embedding_init_std) and self.embedding_init_std > 0,
                "embedding_init_std",
                self.embedding_init_std,
                "a finite positive number or null",
            )
        _require(
            self.mfcc_frames >= self.mfcc_pool,
            "mfcc_pool",
            self.mfcc_pool,
            f"at most mfcc_frames ({self.mfcc_frames})",
        )
        _require(isinstance(self.wmf, WmfConfig), "wmf", self.wmf, "a WmfConfig")
        _require(
            isinstance(self.itemknn, ItemKnnConfig), "itemknn", self.itemknn, "an ItemKnnConfig"
        )
        _require(
            _is_number(self.dropout) and 0 <= self.dropout < 1,
            "dropout",
            self.dropout,
            "in [0, 1)",
        )
        check_probability("song_dropout", self.song_dropout)

    @property
    def resolved_attention_size(self) -> int:
        return self.attention_size or self.embedding_size

    @property
    def tower_widths(self) -> list[int]:
        """Widths of the tower's hidden layers, each half the one before."""
        first = self.tower_width or self.embedding_size << (self.tower_layers - 1)
        return [max(first >> i, 1) for i in range(self.tower_layers)]

    @property
    def mfcc_steps(self) -> int:
        """Time steps the audio models read: ``mfcc_frames // mfcc_pool``."""
        return self.mfcc_frames // self.mfcc_pool


@dataclass
class TrainConfig:
    """Optimisation settings (the paper's grid searches batch size, learning rate and ``d``).

    For WMF, ``epochs`` is the maximum number of ALS iterations and ``early_stopping_patience``
    counts iterations; the batch size, learning rate, negatives and optimizer do not apply.
    Popularity, item-kNN, chord-histogram and random are fitted once: only ``seed`` (recorded;
    random's scores are drawn from it) and ``top_k`` apply.

    ``jit_compile`` compiles the training step with XLA (about twice as fast for NeuMF and GMF
    on CPU; see the README's performance figures), except on CPU for the models that XLA slows
    there (the MFCC models: ``ModelSpec.xla_on_cpu``).

    ``steps_per_execution`` runs that many training steps in one call of the compiled step
    function (Keras' ``compile(steps_per_execution=...)``): the same steps on the same batches,
    with less Python overhead between them (at NCF's batch of 256 on CPU, GMF, MLP and NeuMF
    train 1.2-1.8x faster at 50 than at 1; see the README's performance figures). Callbacks
    that act per batch see every ``steps_per_execution``-th batch; this package's act per epoch.
    Training on several replicas takes one step per execution
    (:func:`coat_tf.runner.steps_per_execution`).

    ``test_every_epoch`` also evaluates the test split (sampled) after every epoch and records
    the figures (``test_each_epoch.json``, ``metrics.json``'s ``test_every_epoch``) beside the
    ones of the epoch chosen on validation: NCF's reference code reports the best test figures
    over its epochs, and this measures what that rule adds. It never chooses anything; a
    hyperparameter search refuses it.

    ``pretrain_gmf`` and ``pretrain_mlp`` name run folders of a trained GMF and MLP of the same
    size on the same data: NeuMF then starts from their weights, the output layer set to
    ``[alpha h_gmf; (1 - alpha) h_mlp]`` (NCF's pre-training, ``alpha = pretrain_alpha``).
    That start is validated before the first step and kept as epoch 0 if no epoch beats it
    (NCF's code evaluates it too); the early stopping counts from it.
    """

    batch_size: int = 256
    learning_rate: float = 1e-3
    epochs: int = 20
    negatives: int = 4
    seed: int = 0
    early_stopping_patience: int = 3
    top_k: int = 10
    optimizer: str = "adam"
    jit_compile: bool = True
    steps_per_execution: int = 50
    pretrain_gmf: str | None = None
    pretrain_mlp: str | None = None
    pretrain_alpha: float = 0.5
    test_every_epoch: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name in ("batch_size", "epochs", "negatives", "top_k", "steps_per_execution"):
            check_positive_int(name, getattr(self, name))
        _require(
            _is_number(self.learning_rate) and self.learning_rate > 0,
            "learning_rate",
            self.learning_rate,
            "a finite positive number",
        )
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _require(isinstance(self.jit_compile, bool), "jit_compile", self.jit_compile, "a bool")
        _require(
            isinstance(self.test_every_epoch, bool),
            "test_every_epoch",
            self.test_every_epoch,
            "a bool",
        )
        _require(
            (self.pretrain_gmf is None) == (self.pretrain_mlp is None),
            "pretrain_gmf/pretrain_mlp",
            (self.pretrain_gmf, self.pretrain_mlp),
            "both set (NeuMF pre-training needs a GMF run and an MLP run) or both unset",
        )
        _require(
            _is_number(self.pretrain_alpha) and 0 <= self.pretrain_alpha <= 1,
            "pretrain_alpha",
            self.pretrain_alpha,
            "in [0, 1]",
        )
        _require(
            isinstance(self.seed, int) and not isinstance(self.seed, bool),
            "seed",
            self.seed,
            "an integer",
        )
        _require(0 <= self.seed <= MAX_SEED, "seed", self.seed, f"in 0..{MAX_SEED} (2**32 - 1)")
        for name in ("pretrain_gmf", "pretrain_mlp"):
            value = getattr(self, name)
            _require(value is None or isinstance(value, str), name, value, "a run folder or null")
        check_non_negative_int("early_stopping_patience", self.early_stopping_patience)


@dataclass
class RunConfig:
    """Everything a training run needs; written as ``config.json`` in the run folder.

    ``data_hash`` is the ``content_hash`` of the data set in ``data_dir`` when the run
    started: ``--resume`` refuses to continue on other data.

    For COAT and its ablations the model name fixes ``model.attention_mode``
    (:data:`MODEL_ATTENTION_MODES`): the default ``"learned"`` becomes the name's mode (a
    config written before modes were recorded reads as what was trained), and another mode
    that contradicts the name is refused.

    ``model.song_dropout`` is refused for models other than COAT and its ablations
    (:data:`MODEL_ATTENTION_MODES`); for ``coat-song-dropout`` the default 0 becomes the name's
    0.5 (:data:`MODEL_SONG_DROPOUT`), so that the config records what is trained.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    model_name: str = "coat"
    data_dir: str | None = None
    data_hash: str | None = None

    def __post_init__(self) -> None:
        _require(isinstance(self.model, ModelConfig), "model", self.model, "a ModelConfig")
        _require(isinstance(self.train, TrainConfig), "train", self.train, "a TrainConfig")
        _require(isinstance(self.model_name, str), "model_name", self.model_name, "a model name")
        from coat_tf.models.registry import get_spec  # the registry imports TensorFlow

        try:
            get_spec(self.model_name)
        except ValueError as error:
            raise ValueError(f"model_name: {error}") from None
        _require(
            self.data_dir is None or isinstance(self.data_dir, str),
            "data_dir",
            self.data_dir,
            "a folder or null",
        )
        self._apply_attention_mode()
        self._apply_song_dropout()

    def _apply_attention_mode(self) -> None:
        """Set (or check) ``model.attention_mode`` from the model name."""
        mode = MODEL_ATTENTION_MODES.get(self.model_name)
        if mode is None:
            return
        if self.model.attention_mode not in ("learned", mode):
            named = [n for n, m in MODEL_ATTENTION_MODES.items() if m == self.model.attention_mode]
            raise ValueError(
                f"model.attention_mode is {self.model.attention_mode!r}, but model "
                f"{self.model_name!r} has {mode!r} attention: choose model {named[0]!r} for "
                f"{self.model.attention_mode!r} attention, or drop attention_mode"
            )
        if self.model.attention_mode != mode:
            self.model = dataclasses.replace(self.model, attention_mode=mode)

    def _apply_song_dropout(self) -> None:
        """Refuse a song dropout for a model without one, or set the name's own."""
        if self.model_name not in MODEL_ATTENTION_MODES:
            if self.model.song_dropout:
                raise ValueError(
                    f"model.song_dropout (--song-dropout) is {self.model.song_dropout!r}, but "
                    f"model {self.model_name!r} has no song dropout: it replaces the song "
                    f"embedding of COAT's GMF term (models {', '.join(MODEL_ATTENTION_MODES)}); "
                    "drop song_dropout or set it to 0"
                )
            return
        default = MODEL_SONG_DROPOUT.get(self.model_name)
        if default is not None and not self.model.song_dropout:
            self.model = dataclasses.replace(self.model, song_dropout=default)


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain JSON-able data."""
    return dataclasses.asdict(config)


#: How a JSON value's kind is named in a message (as JSON names it, not Python).
_JSON_KINDS = {
    type(None): "null",
    bool: "true or false",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
}

#: What a field's annotation (a string, ``from __future__ import annotations``) accepts.
_ACCEPTS: dict[str, tuple[str, Any]] = {
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "float": ("a number", _is_number),
    "str": ("a string", lambda v: isinstance(v, str)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
}


def _json_kind(value: Any) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _check_type(name: str, annotation: str, value: Any) -> None:
    """Raise ``ValueError`` if ``value`` does not fit a field annotated ``annotation``
    (``int``, ``float``, ``str``, ``bool``, each optionally ``| None``)."""
    base, optional = annotation.removesuffix(" | None"), annotation.endswith(" | None")
    if base not in _ACCEPTS or (optional and value is None):
        return
    what, accepts = _ACCEPTS[base]
    if not accepts(value):
        raise ValueError(
            f"{name} must be {what}{' or null' if optional else ''}, got {value!r} "
            f"({_json_kind(value)})"
        )


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build a (possibly nested) dataclass config, rejecting unknown keys by name and values
    of the wrong JSON kind (a string, list, object or bool where a number is expected)."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} expects a JSON object, got {_json_kind(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    kwargs = {}
    for name, value in data.items():
        field_type = fields[name].type
        nested = _NESTED.get(field_type) if isinstance(field_type, str) else None
        if nested is None:
            kwargs[name] = value
            continue
        try:
            kwargs[name] = from_dict(nested, value)
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
    try:
        config = cls(**kwargs)  # the fields' own checks first: they say what a value must be
    except TypeError:
        _check_types(fields, data)  # a value of the wrong kind tripped a check: name it
        raise
    _check_types(fields, data)
    return config


def _check_types(fields: dict[str, dataclasses.Field], data: dict[str, Any]) -> None:
    for name, value in data.items():
        annotation = fields[name].type
        if isinstance(annotation, str) and annotation not in _NESTED:
            _check_type(name, annotation, value)


_NESTED: dict[str, type] = {
    "ModelConfig": ModelConfig,
    "TrainConfig": TrainConfig,
    "WmfConfig": WmfConfig,
    "ItemKnnConfig": ItemKnnConfig,
}


def to_json(config: Any) -> str:
    return json.dumps(to_dict(config), indent=2, sort_keys=True) + "\n"


def from_json(cls: type[T], text: str) -> T:
    return from_dict(cls, json.loads(text))


def save(config: Any, path: str | os.PathLike) -> None:
    """Write ``config`` as JSON atomically (temporary file, then rename)."""
    atomic_write_text(Path(path), to_json(config))


def read_json(path: str | os.PathLike, expected: str = "a JSON file") -> Any:
    """The JSON value in the file ``path``, of any kind.

    Raises:
        ValueError: the file is missing, a folder, unreadable, not UTF-8 or not JSON; the
            message starts with the file's path (and the line, for bad JSON) and names what
            was ``expected`` there.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file (expected {expected})") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a folder (expected {expected})") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: byte {error.start} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}:{error.lineno}: not valid JSON ({error.msg}, column {error.colno})"
        ) from None


def load(cls: type[T], path: str | os.PathLike) -> T:
    """Read a config from a JSON file.

    Raises:
        ValueError: the file is missing, unreadable, not UTF-8, not JSON, or holds a bad
            setting; the message starts with the file's path (and the line, for bad JSON).
    """
    path = Path(path)
    data = read_json(path, f"a JSON {cls.__name__} file")
    try:
        return from_dict(cls, data)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: {error}") from None
