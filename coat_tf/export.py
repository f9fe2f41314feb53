"""Export a trained model as a SavedModel with serving signatures.

Layout (the TensorFlow Serving one: a folder per model name, a folder per integer version)::

    saved_models/<name>/<version>/
        saved_model.pb, fingerprint.pb, variables/      the SavedModel
        assets.extra/                                   files beside it (not read by the graph)
            export.json            what was exported: signatures, sizes, exclusions, data hash
            config.json            the run's RunConfig
            users.tsv              index -> original user id   (``index id``)
            songs.tsv              index -> original song id   (``index id has_chords ...``)
            chord_vocabulary.txt   chord id -> label (JSON, :class:`ChordVocabulary`)
            manifest.json          the prepared data set's manifest (content hash, settings)
            checksums.json         size and SHA-256 of every other file (coat_tf.integrity)

``assets.extra`` is the folder TensorFlow Serving leaves alone; ``tf.saved_model.load`` does not
need it. The folder is built under a temporary name and renamed when complete.

Signatures. Every id is an **index** (``int32``), not an original id: ``users.tsv`` and
``songs.tsv`` map original ids to indices (``coat_tf.recommend`` does this lookup).

- ``serving_default``: ``user_id [N], song_id [N] -> score [N]``, the listening probability;
  the song's chord ids are looked up inside the model.
- ``score_chords`` (COAT and its ablation only; NeuMF has no chord input, so it is omitted):
  ``user_id [N], chord_ids [N, L] -> score [N], attention [N, L]``, for a song with new audio.
  A new song has no song embedding ``Q[i]``; its GMF term uses the mean song embedding
  ``mean_j Q[j]`` (the catalogue's average song)::

      score = tower([P[u] * mean_j Q[j]; Att(e_u, chord_ids)])

  The attention weights do not depend on ``Q`` at all, so they are the weights the model gives
  any song with these chords.
- ``recommend``: ``user_id [U], k (scalar) -> song_ids [U, k'], scores [U, k']`` with
  ``k' = min(k, num_songs)``: the top songs of the catalogue by score, best first, the user's
  training songs excluded. Where fewer than ``k'`` songs remain, the last slots hold song id
  ``-1`` and score ``0``.

Out-of-range ids and ``k < 1`` fail with ``InvalidArgumentError`` naming the input.

The restored object also has ``song_chords(song_id [N]) -> [N, L]`` (chord models), a plain
function rather than a signature.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from coat_tf import __version__
from coat_tf.config import RunConfig, save, to_dict
from coat_tf.fileio import atomic_directory, atomic_write_text
from coat_tf.integrity import CHECKSUMS_FILE, write_checksums
from coat_tf.models.coat import ATTENTION_LAYER, GMF_LAYER
from coat_tf.models.inputs import CHORD_IDS
from coat_tf.scoring import make_catalogue_scorer

EXPORT_FORMAT_VERSION = 1
EXTRA_DIR = "assets.extra"
EXPORT_INFO = "export.json"
CONFIG_FILE = "config.json"
USERS_FILE = "users.tsv"
SONGS_FILE = "songs.tsv"
VOCABULARY_FILE = "chord_vocabulary.txt"
MANIFEST_FILE = "manifest.json"

SERVING_DEFAULT = "serving_default"
SCORE_CHORDS = "score_chords"
RECOMMEND = "recommend"
EXCLUDE = ("train", "all")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION = re.compile(r"^[0-9]+$")


def _id_check(ids: tf.Tensor, limit: int, name: str) -> None:
    tf.debugging.assert_non_negative(ids, message=f"{name} must be >= 0")
    tf.debugging.assert_less(
        ids, tf.constant(limit, ids.dtype), message=f"{name} must be < {limit}"
    )


class ServingModule(tf.Module):
    """The exported object: the model, its catalogue scorer and the training exclusions.

    Args:
        model: a model with inputs ``user_id``, ``song_id`` and optionally ``chord_ids``.
        chords: int32 ``[num_songs, L]``, every song's chord ids.
        exclusions: for each user index, the song indices ``recommend`` never returns.
        song_chunk: songs scored at once by ``recommend`` (bounds memory).

    The exclusions are stored as a ragged table (``values`` int32 ``[nnz]``, ``row_splits``
    int64 ``[num_users + 1]``, both non-trainable variables), so they cost ``O(interactions)``
    rather than ``num_users x num_songs``.
    """

    def __init__(
        self,
        model: tf.keras.Model,
        chords: np.ndarray,
        exclusions: list[np.ndarray],
        song_chunk: int | None = None,
    ) -> None:
        super().__init__(name="coat_serving")
        chords = np.asarray(chords, dtype=np.int32)
        if chords.ndim != 2:
            raise ValueError(f"chords must be [num_songs, L], got shape {chords.shape}")
        self.model = model
        self.scorer = make_catalogue_scorer(model, chords, song_chunk)
        self.num_songs = int(chords.shape[0])
        self.num_users = len(exclusions)
        self.sequence_length = int(chords.shape[1])
        lengths = np.array([len(e) for e in exclusions], dtype=np.int64)
        values = np.concatenate([np.asarray(e, np.int32) for e in exclusions] or [[]])
        if len(values) and (values.min() < 0 or values.max() >= self.num_songs):
            raise ValueError(f"exclusions hold song indices outside [0, {self.num_songs})")
        self.exclusion_values = tf.Variable(values.astype(np.int32), trainable=False)
        self.exclusion_splits = tf.Variable(
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), trainable=False
        )
        ids = tf.TensorSpec([None], tf.int32, name="user_id")
        self.score = tf.function(
            self._score, input_signature=[ids, tf.TensorSpec([None], tf.int32, name="song_id")]
        )
        self.recommend = tf.function(
            self._recommend, input_signature=[ids, tf.TensorSpec([], tf.int32, name="k")]
        )
        layers = {layer.name for layer in model.layers}
        self.has_chords = (
            CHORD_IDS in model.input_names
            and {
                ATTENTION_LAYER,
                GMF_LAYER,
                "tower",
            }
            <= layers
        )
        if self.has_chords:
            chord_spec = tf.TensorSpec([None, self.sequence_length], tf.int32, name="chord_ids")
            self.score_chords = tf.function(self._score_chords, input_signature=[ids, chord_spec])
            self.song_chords = tf.function(
                self._song_chords, input_signature=[tf.TensorSpec([None], tf.int32, name="song_id")]
            )

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """The serving signatures by name (see the module docstring)."""
        out = {
            SERVING_DEFAULT: self.score.get_concrete_function(),
            RECOMMEND: self.recommend.get_concrete_function(),
        }
        if self.has_chords:
            out[SCORE_CHORDS] = self.score_chords.get_concrete_function()
        return out

    def _score(self, user_id: tf.Tensor, song_id: tf.Tensor) -> dict[str, tf.Tensor]:
        _id_check(user_id, self.num_users, "user_id")
        _id_check(song_id, self.num_songs, "song_id")
        return {"score": self.scorer.score_pairs(user_id, song_id)}

    def _song_chords(self, song_id: tf.Tensor) -> tf.Tensor:
        _id_check(song_id, self.num_songs, "song_id")
        return tf.gather(self.scorer.chords, song_id)

    def _score_chords(self, user_id: tf.Tensor, chord_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        _id_check(user_id, self.num_users, "user_id")
        num_chords = self.model.get_layer(ATTENTION_LAYER).num_chords
        _id_check(chord_ids, num_chords, "chord_ids")
        gmf = self.model.get_layer(GMF_LAYER)
        attention = self.model.get_layer(ATTENTION_LAYER)
        names = {layer.name for layer in self.model.layers}
        table = (
            self.model.get_layer("attention_user_embedding").embeddings
            if "attention_user_embedding" in names
            else gmf.user_embeddings
        )
        mean_song = tf.reduce_mean(gmf.song_embeddings, axis=0)  # [d]
        gmf_out = tf.gather(gmf.user_embeddings, user_id) * mean_song[None, :]
        attended, weights = attention([tf.gather(table, user_id), chord_ids])
        features = tf.concat([gmf_out, attended], axis=-1)
        score = self.model.get_layer("tower")(features, training=False)
        return {"score": score, "attention": weights}

    def _recommend(self, user_id: tf.Tensor, k: tf.Tensor) -> dict[str, tf.Tensor]:
        _id_check(user_id, self.num_users, "user_id")
        tf.debugging.assert_positive(k, message="k must be >= 1")
        scores = self.scorer.score_all(user_id)  # [U, S]
        table = tf.RaggedTensor.from_row_splits(
            self.exclusion_values, self.exclusion_splits, validate=False
        )
        seen = tf.gather(table, user_id)  # [U, None]
        where = tf.stack(
            [seen.value_rowids(), tf.cast(seen.flat_values, tf.int64)], axis=1
        )  # [nnz_U, 2]
        masked = tf.tensor_scatter_nd_update(
            scores, where, tf.fill([tf.shape(where)[0]], tf.constant(-np.inf, scores.dtype))
        )
        top = tf.math.top_k(masked, k=tf.minimum(k, self.num_songs), sorted=True)
        found = tf.math.is_finite(top.values)
        return {
            "song_ids": tf.where(found, top.indices, -1),
            "scores": tf.where(found, top.values, tf.zeros_like(top.values)),
        }


def training_exclusions(data, exclude: str = "train") -> list[np.ndarray]:
    """Song indices to exclude per user: the training songs, or with ``"all"`` also the
    validation and test positives (for serving a model after evaluation)."""
    if exclude not in EXCLUDE:
        raise ValueError(f"exclude must be one of {EXCLUDE}, got {exclude!r}")
    items = [np.asarray(s, np.int32) for s in data.train_items_by_user()]
    if exclude == "all":
        for split in (data.valid, data.test):
            for user, song in zip(split.users, split.positives, strict=True):
                items[user] = np.union1d(items[user], [song]).astype(np.int32)
    return items


def next_version(model_root: str | os.PathLike) -> int:
    """One more than the highest integer-named version folder under ``model_root`` (1 if none)."""
    root = Path(model_root)
    if not root.is_dir():
        return 1
    versions = [int(p.name) for p in root.iterdir() if p.is_dir() and _VERSION.match(p.name)]
    return max(versions, default=0) + 1


def _check_sizes(model: tf.keras.Model, data, run_config: RunConfig) -> None:
    config = run_config.model
    expected = {
        "num_users": data.num_users,
        "num_songs": data.num_songs,
        "sequence_length": int(np.asarray(data.chords).shape[1]),
    }
    if CHORD_IDS in model.input_names:
        expected["num_chords"] = data.num_chords
    for field_name, value in expected.items():
        if getattr(config, field_name) != value:
            raise ValueError(
                f"run_config.model.{field_name} is {getattr(config, field_name)} but the data set "
                f"{getattr(data, 'path', '')} has {value}: the model was not built for this data"
            )
    if np.asarray(data.chords).shape[0] != data.num_songs:
        raise ValueError(f"data.chords has {len(data.chords)} rows for {data.num_songs} songs")


def _write_tables(folder: Path, data) -> None:
    users = pd.DataFrame({"index": range(data.num_users), "id": list(data.user_ids)})
    songs = getattr(data, "songs", None)
    if songs is None or len(songs) != data.num_songs:
        songs = pd.DataFrame({"index": range(data.num_songs), "id": list(data.song_ids)})
    for path, frame in ((folder / USERS_FILE, users), (folder / SONGS_FILE, songs)):
        atomic_write_text(path, frame.to_csv(sep="\t", index=False, lineterminator="\n"))
    data.vocabulary.save(folder / VOCABULARY_FILE)
    manifest = getattr(data, "manifest", None) or {}
    atomic_write_text(folder / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")


def export_model(
    model: tf.keras.Model,
    data,
    run_config: RunConfig,
    out_root: str | os.PathLike = "saved_models",
    name: str | None = None,
    version: int | None = None,
    exclude: str = "train",
    song_chunk: int | None = None,
) -> Path:
    """Export ``model`` to ``out_root/name/version`` (see the module docstring).

    Args:
        model: a trained model built for ``data`` (COAT, its ablation, or NeuMF).
        data: the :class:`~coat_tf.data.PreparedDataset` it was trained on.
        run_config: written as ``config.json``.
        out_root: the folder of all exported models.
        name: the model folder; defaults to ``model.name`` (``coat``, ``coat_uniform``,
            ``neumf``).
        version: a positive integer; defaults to one more than the highest existing version.
        exclude: songs ``recommend`` leaves out per user: ``"train"`` (training songs) or
            ``"all"`` (also the validation and test positives).
        song_chunk: songs scored at once by ``recommend`` (``None``: the scorer's default).

    Returns:
        The version folder.

    Raises:
        ValueError: a bad name or version, or a model whose sizes differ from the data set.
        FileExistsError: the version folder exists.
    """
    name = name or model.name
    if not _NAME.match(name):
        raise ValueError(f"export name must match {_NAME.pattern}, got {name!r}")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError(f"version must be a positive integer, got {version!r}")
    _check_sizes(model, data, run_config)
    model_root = Path(out_root) / name
    version = version if version is not None else next_version(model_root)
    target = model_root / str(version)
    if target.exists():
        raise FileExistsError(f"{target} already exists (choose another version)")
    started = time.perf_counter()
    exclusions = training_exclusions(data, exclude)
    module = ServingModule(model, data.chords, exclusions, song_chunk)
    signatures = module.signatures()
    with atomic_directory(target) as tmp:
        tf.saved_model.save(module, str(tmp), signatures=signatures)
        extra = tmp / EXTRA_DIR
        extra.mkdir()
        save(run_config, extra / CONFIG_FILE)
        _write_tables(extra, data)
        info = {
            "format_version": EXPORT_FORMAT_VERSION,
            "coat_tf_version": __version__,
            "name": name,
            "version": version,
            "model": model.name,
            "signatures": sorted(signatures),
            "id_dtype": "int32",
            "num_users": data.num_users,
            "num_songs": data.num_songs,
            "num_chords": data.num_chords,
            "sequence_length": module.sequence_length,
            "exclude": exclude,
            "excluded_pairs": int(sum(len(e) for e in exclusions)),
            "data_content_hash": (getattr(data, "manifest", None) or {}).get("content_hash"),
            "model_config": to_dict(run_config.model),
            "seconds": round(time.perf_counter() - started, 2),
        }
        atomic_write_text(extra / EXPORT_INFO, json.dumps(info, indent=2) + "\n")
        write_checksums(tmp, f"{EXTRA_DIR}/{CHECKSUMS_FILE}")  # checked before loading
        _readable(tmp)
    return target


def _readable(folder: Path) -> None:
    """Give the export the usual permissions (by the umask): temporary files and folders are
    created private (0600/0700), which a server running as another user could not read."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [folder, *folder.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)
