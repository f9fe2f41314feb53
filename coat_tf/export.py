"""Export a trained model as a SavedModel with serving signatures.

Layout (the TensorFlow Serving one: a folder per model name, a folder per integer version)::

    saved_models/<name>/<version>/
        saved_model.pb, fingerprint.pb, variables/      the SavedModel
        assets.extra/                                   files beside it (not read by the graph)
            export.json            what was exported: signatures, sizes, exclusions, data hash,
                                   attention_mode (COAT: learned, or an ablation's uniform/ones)
            config.json            the run's RunConfig
            users.tsv              index -> original user id   (``index id``)
            songs.tsv              index -> original song id   (``index id has_chords ...``)
            chord_vocabulary.txt   chord id -> label (JSON, :class:`ChordVocabulary`)
            manifest.json          the prepared data set's manifest (content hash, settings)
            checksums.json         size and SHA-256 of every other file (coat_tf.integrity)

``assets.extra`` is the folder TensorFlow Serving leaves alone; ``tf.saved_model.load`` does not
need it. The folder is built under a temporary name and renamed when complete; without an
explicit version, that rename takes the next free number, so two trainings exporting into one
root at once write two versions (:func:`coat_tf.fileio.atomic_numbered_directory`).

Signatures. Every id is an **index** (``int32``), not an original id: ``users.tsv`` and
``songs.tsv`` map original ids to indices (``coat_tf.recommend`` does this lookup). Every model
(:mod:`coat_tf.models`) is exported through its scoring interface, the
:class:`~coat_tf.models.Recommender`, so every export has the first two:

- ``serving_default``: ``user_id [N], song_id [N] -> score [N]``: the listening probability
  (WMF: the preference ``x_u . y_i``); song content (chords, MFCCs) is looked up inside.
- ``recommend``: ``user_id [U], k (scalar) -> song_ids [U, k'], scores [U, k']`` with
  ``k' = min(k, num_songs)``: the top songs of the catalogue by score, best first, the user's
  training songs excluded. Where fewer than ``k'`` songs remain, the last slots hold song id
  ``-1`` and score ``0``.

and the models that read song content can score a song with new audio (``score_new_songs``; a
new song has no song embedding, so the catalogue's mean song embedding stands in for it):

- ``score_chords`` (COAT and its ablations): ``user_id [N], chord_ids [N, L] -> score [N],
  attention [N, L]``. The attention weights do not depend on the song embedding at all, so they
  are the weights the model gives any song with these chords. Chord-histogram and random have
  it too, without ``attention`` (they have none): ``-> score [N]``.
- ``score_mfcc`` (NeuMF+CNN, NeuMF+LSTM): ``user_id [N], mfcc [N, n_mfcc, frames] -> score
  [N]``, from an MFCC excerpt as ``prepare --mfcc`` computes it.

Out-of-range ids and ``k < 1`` fail with ``InvalidArgumentError`` naming the input.

The restored object also has ``song_chords(song_id [N]) -> [N, L]`` (COAT, its ablations and
chord-histogram: the models that keep the catalogue's chords), a plain function rather than a
signature.
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
from coat_tf.fileio import (
    atomic_directory,
    atomic_numbered_directory,
    atomic_write_text,
    highest_number,
)
from coat_tf.integrity import CHECKSUMS_FILE, write_checksums
from coat_tf.layers.chord_attention import split_graph
from coat_tf.models.recommender import Recommender
from coat_tf.schema import CHORD_IDS, MFCC, SONG_ID, USER_ID

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
SCORE_MFCC = "score_mfcc"
RECOMMEND = "recommend"
EXCLUDE = ("train", "all")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _id_check(ids: tf.Tensor, limit: int, name: str) -> None:
    tf.debugging.assert_non_negative(ids, message=f"{name} must be >= 0")
    tf.debugging.assert_less(
        ids, tf.constant(limit, ids.dtype), message=f"{name} must be < {limit}"
    )


class ServingModule(tf.Module):
    """The exported object: a model's scoring interface and the training exclusions.

    Args:
        recommender: the model's :class:`~coat_tf.models.Recommender` (its variables, the
            model's weights and song tables, are saved with it).
        exclusions: for each user index, the song indices ``recommend`` never returns.

    The exclusions are stored as a ragged table (``values`` int32 ``[nnz]``, ``row_splits``
    int64 ``[num_users + 1]``, both non-trainable variables), so they cost ``O(interactions)``
    rather than ``num_users x num_songs``.
    """

    def __init__(self, recommender: Recommender, exclusions: list[np.ndarray]) -> None:
        super().__init__(name="coat_serving")
        if len(exclusions) != recommender.num_users:
            raise ValueError(
                f"exclusions cover {len(exclusions)} users, the model has {recommender.num_users}"
            )
        self.recommender = recommender
        self.num_songs = recommender.num_songs
        self.num_users = recommender.num_users
        lengths = np.array([len(e) for e in exclusions], dtype=np.int64)
        values = np.concatenate([np.asarray(e, np.int32) for e in exclusions] or [[]])
        if len(values) and (values.min() < 0 or values.max() >= self.num_songs):
            raise ValueError(f"exclusions hold song indices outside [0, {self.num_songs})")
        self.exclusion_values = tf.Variable(values.astype(np.int32), trainable=False)
        self.exclusion_splits = tf.Variable(
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), trainable=False
        )
        ids = tf.TensorSpec([None], tf.int32, name=USER_ID)
        self.score = tf.function(
            self._score, input_signature=[ids, tf.TensorSpec([None], tf.int32, name=SONG_ID)]
        )
        self.recommend = tf.function(
            self._recommend, input_signature=[ids, tf.TensorSpec([], tf.int32, name="k")]
        )
        self.content_input = recommender.content_input
        if self.content_input == CHORD_IDS:
            self.sequence_length = recommender.sequence_length
            chord_spec = tf.TensorSpec([None, self.sequence_length], tf.int32, name=CHORD_IDS)
            self.score_chords = tf.function(self._score_chords, input_signature=[ids, chord_spec])
            if hasattr(recommender, "song_chords"):
                song_spec = tf.TensorSpec([None], tf.int32, name=SONG_ID)
                self.song_chords = tf.function(self._song_chords, input_signature=[song_spec])
        elif self.content_input == MFCC:
            mfcc_spec = tf.TensorSpec([None, *recommender.mfcc_shape], tf.float32, name=MFCC)
            self.score_mfcc = tf.function(self._score_mfcc, input_signature=[ids, mfcc_spec])

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """The serving signatures by name (see the module docstring)."""
        out = {
            SERVING_DEFAULT: self.score.get_concrete_function(),
            RECOMMEND: self.recommend.get_concrete_function(),
        }
        if self.content_input == CHORD_IDS:
            out[SCORE_CHORDS] = self.score_chords.get_concrete_function()
        elif self.content_input == MFCC:
            out[SCORE_MFCC] = self.score_mfcc.get_concrete_function()
        return out

    def _score(self, user_id: tf.Tensor, song_id: tf.Tensor) -> dict[str, tf.Tensor]:
        _id_check(user_id, self.num_users, USER_ID)
        _id_check(song_id, self.num_songs, SONG_ID)
        return {"score": self.recommender.score_pairs(user_id, song_id)}

    def _song_chords(self, song_id: tf.Tensor) -> tf.Tensor:
        _id_check(song_id, self.num_songs, SONG_ID)
        return self.recommender.song_chords(song_id)

    def _score_chords(self, user_id: tf.Tensor, chord_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        _id_check(user_id, self.num_users, USER_ID)
        _id_check(chord_ids, self.recommender.num_chords, CHORD_IDS)
        out = {"score": self.recommender.score_new_songs(user_id, chord_ids)}
        if self.recommender.has_attention:
            out["attention"] = self.recommender.attention(user_id, chord_ids)
        return out

    def _score_mfcc(self, user_id: tf.Tensor, mfcc: tf.Tensor) -> dict[str, tf.Tensor]:
        _id_check(user_id, self.num_users, USER_ID)
        return {"score": self.recommender.score_new_songs(user_id, mfcc)}

    def _recommend(self, user_id: tf.Tensor, k: tf.Tensor) -> dict[str, tf.Tensor]:
        _id_check(user_id, self.num_users, USER_ID)
        tf.debugging.assert_positive(k, message="k must be >= 1")
        scores = self.recommender.score_all(user_id)  # [U, S]
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
    """One more than the highest integer-named version folder under ``model_root`` (1 if none).

    Another process may take that number before this one publishes: :func:`export_model`
    takes its number when it publishes the folder, not from this.
    """
    return highest_number(model_root) + 1


def _check_sizes(recommender: Recommender, data, run_config: RunConfig) -> None:
    config = run_config.model
    expected = {"num_users": data.num_users, "num_songs": data.num_songs}
    if recommender.content_input == CHORD_IDS:
        expected["sequence_length"] = int(np.asarray(data.chords).shape[1])
        expected["num_chords"] = data.num_chords
    for field_name, value in expected.items():
        if getattr(config, field_name) != value:
            raise ValueError(
                f"run_config.model.{field_name} is {getattr(config, field_name)} but the data set "
                f"{getattr(data, 'path', '')} has {value}: the model was not built for this data"
            )
    mode = recommender.attention_mode
    if mode is not None and config.attention_mode != mode:
        raise ValueError(
            f"run_config.model.attention_mode is {config.attention_mode!r} but the model "
            f"{recommender.name} has {mode!r} attention: the config does not describe it"
        )
    if (recommender.num_users, recommender.num_songs) != (data.num_users, data.num_songs):
        raise ValueError(
            f"the model scores {recommender.num_users} users and {recommender.num_songs} songs, "
            f"the data set {getattr(data, 'path', '')} has {data.num_users} and {data.num_songs}"
        )


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
    recommender: Recommender,
    data,
    run_config: RunConfig,
    out_root: str | os.PathLike = "saved_models",
    name: str | None = None,
    version: int | None = None,
    exclude: str = "train",
) -> Path:
    """Export a trained model to ``out_root/name/version`` (see the module docstring).

    Args:
        recommender: the scoring interface of a trained model built for ``data``.
        data: the :class:`~coat_tf.data.PreparedDataset` it was trained on.
        run_config: written as ``config.json``.
        out_root: the folder of all exported models.
        name: the model folder; defaults to the model's name (``coat``, ``coat_uniform``,
            ``gmf``, ``neumf_cnn``, ``wmf``, ...).
        version: a positive integer; by default the next free version, taken when the
            folder is published (so that exports into one root at once each get their own).
        exclude: songs ``recommend`` leaves out per user: ``"train"`` (training songs) or
            ``"all"`` (also the validation and test positives).

    Returns:
        The version folder written (its number is also ``export.json``'s ``version``).

    Raises:
        ValueError: a bad name or version, or a model whose sizes differ from the data set.
        FileExistsError: ``version`` was given and its folder exists (or another process
            published it during the export).
    """
    name = name or recommender.name
    if not _NAME.match(name):
        raise ValueError(f"export name must match {_NAME.pattern}, got {name!r}")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError(f"version must be a positive integer, got {version!r}")
    _check_sizes(recommender, data, run_config)
    model_root = Path(out_root) / name
    if version is not None and (model_root / str(version)).exists():
        raise FileExistsError(f"{model_root / str(version)} already exists (choose another one)")
    started = time.perf_counter()
    exclusions = training_exclusions(data, exclude)
    module = ServingModule(recommender, exclusions)
    with split_graph():  # an export never needs the fused op
        signatures = module.signatures()
    info = _export_info(recommender, data, run_config, name, exclude, exclusions)
    info["signatures"] = sorted(signatures)

    def build(folder: Path) -> None:
        with split_graph():
            tf.saved_model.save(module, str(folder), signatures=signatures)
        (folder / EXTRA_DIR).mkdir()
        save(run_config, folder / EXTRA_DIR / CONFIG_FILE)
        _write_tables(folder / EXTRA_DIR, data)

    def stamp(folder: Path, number: int) -> None:
        _stamp(folder, {**info, "version": number}, started)

    if version is not None:
        target = model_root / str(version)
        with atomic_directory(target) as tmp:
            build(tmp)
            stamp(tmp, version)
        return target
    with atomic_numbered_directory(model_root, stamp) as published:
        build(published.building)
    return published.path


def _export_info(
    recommender: Recommender,
    data,  # noqa: ANN001 - a PreparedDataset
    run_config: RunConfig,
    name: str,
    exclude: str,
    exclusions: list[np.ndarray],
) -> dict:
    """``export.json`` without its ``version``, ``signatures`` and ``seconds``."""
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "coat_tf_version": __version__,
        "name": name,
        "model": recommender.name,
        "model_name": run_config.model_name,
        "attention_mode": recommender.attention_mode,
        "score": "probability" if recommender.score_is_probability else "preference",
        "id_dtype": "int32",
        "num_users": data.num_users,
        "num_songs": data.num_songs,
        "num_chords": data.num_chords,
        "sequence_length": int(np.asarray(data.chords).shape[1]),
        "exclude": exclude,
        "excluded_pairs": int(sum(len(e) for e in exclusions)),
        "data_content_hash": (getattr(data, "manifest", None) or {}).get("content_hash"),
        "model_config": to_dict(run_config.model),
    }


def _stamp(folder: Path, info: dict, started: float) -> None:
    """Write ``export.json`` (``info`` with the seconds since ``started``), then the checksums
    of every file; called again, with another version, if that version was taken meanwhile."""
    info = {**info, "seconds": round(time.perf_counter() - started, 2)}
    atomic_write_text(folder / EXTRA_DIR / EXPORT_INFO, json.dumps(info, indent=2) + "\n")
    write_checksums(folder, f"{EXTRA_DIR}/{CHECKSUMS_FILE}")  # checked before loading
    _readable(folder)


def _readable(folder: Path) -> None:
    """Give the export the usual permissions (by the umask): temporary files and folders are
    created private (0600/0700), which a server running as another user could not read."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [folder, *folder.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)
