"""Query an exported model: the top songs for a user, and the chords the attention weighed most.

Command line::

    python -m coat_tf.recommend --model DIR --user USER [--k 10] [--explain] [--top-chords 3]
                                [--json] [--new-songs [--data DATA]]

``DIR`` is a version folder (``saved_models/coat/1``) or a model folder (``saved_models/coat``,
whose highest version is used). ``USER`` is the **original** user id, looked up in
``assets.extra/users.tsv``; song indices are mapped back through ``songs.tsv``. Songs the user
trained on are never recommended (the export's ``recommend`` signature masks them).

``--explain`` scores each recommended song again through ``score_chords`` and shows, per song,
the chord labels with the most attention mass: for chord label ``c``,
``mass(c) = sum_{i : c_i = c} beta_i`` over the song's positions ``i``, so the masses of a song
sum to 1. The ablations without attention learn no weights: in ``coat-uniform``
(``attention_mode = "uniform"``) every position weighs ``1 / L`` and the masses are the chords'
frequencies, in ``coat-ones`` every position weighs 1 and they are the chords' counts; the
output says so (:data:`ABLATION_NOTES`), since there is nothing learned to explain.

``--new-songs`` ranks, instead of the catalogue, every new song of the prepared data set
(``prepare --new-songs``: songs held out of the catalogue, with no listening history): each is
scored from its content through ``score_chords`` (COAT and its ablations) or ``score_mfcc``
(NeuMF+CNN, NeuMF+LSTM), which stand the mean of the song embedding table in for the song
embedding the new song does not have. Nothing is excluded: no user has a new song in training.
``--explain`` shows the attention over each new song's own chords, as for catalogue songs. The
data set is the one the model was trained on (``config.json``'s ``data_dir``) unless ``--data``
names another, whose content hash must be the one in ``export.json``. A model that reads no
song content, or a data set without new songs (or, for an audio model, without their MFCCs), is
refused with exit status 2.

Before loading, every file of the export is checked against ``assets.extra/checksums.json``
(sizes and SHA-256, written by the export; see :mod:`coat_tf.integrity`), so a truncated or
damaged SavedModel is named, not fed to TensorFlow's parser.

Exit status: 0 on success, 2 for an unknown user, an unusable model folder or a bad option
(``--k`` is at most 2,147,483,647, the signature's ``int32``), with a message, not a
traceback; 1 for a model that gives NaN or infinite scores, or when the reader of the output
closed it early (``... | head -1``), which ends the command quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from coat_tf import add_version_option
from coat_tf.export import (
    CONFIG_FILE,
    EXPORT_INFO,
    EXTRA_DIR,
    RECOMMEND,
    SCORE_CHORDS,
    SCORE_MFCC,
    SONGS_FILE,
    USERS_FILE,
    VOCABULARY_FILE,
)
from coat_tf.integrity import CHECKSUMS_FILE, IntegrityError, verify_listing
from coat_tf.models.coat import MODEL_NAMES

#: What ``--explain`` says of an ablation's attention weights, by attention mode.
ABLATION_NOTES = {
    "uniform": "coat-uniform has no attention: every chord position weighs 1/L, so the masses "
    "are the chords' frequencies in the song and there is nothing learned to explain",
    "ones": "coat-ones has no attention: every chord position weighs 1, so the masses are the "
    "chords' counts in the song and there is nothing learned to explain",
}


#: The largest ``k`` the ``recommend`` signature takes (an ``int32`` scalar).
MAX_K = 2**31 - 1


class ExportError(ValueError):
    """A model folder that cannot be used, or a query it cannot answer."""


class BrokenModelError(RuntimeError):
    """An export whose model gives NaN or infinite scores (a diverged training run)."""


class UnknownUserError(KeyError):
    """A user id that is not in the export's ``users.tsv``."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class Recommendation:
    """One recommended song; ``chords`` holds ``(label, attention mass)``, largest first."""

    rank: int
    song: str
    index: int
    score: float
    name: str = ""
    has_chords: bool | None = None
    chords: list[tuple[str, float]] = field(default_factory=list)


def resolve_export_dir(path: str | os.PathLike) -> Path:
    """The SavedModel folder for ``path``: itself, or its highest integer version folder."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    if not path.is_dir():
        raise ExportError(f"{path}: no such folder (expected an exported model)")
    versions = [p for p in path.iterdir() if p.name.isdigit() and (p / "saved_model.pb").is_file()]
    if not versions:
        raise ExportError(
            f"{path}: neither a SavedModel (no saved_model.pb) nor a folder of numbered versions"
        )
    return max(versions, key=lambda p: int(p.name))


def top_chords(
    chord_ids: np.ndarray, weights: np.ndarray, labels: list[str], n: int
) -> list[tuple[str, float]]:
    """The ``n`` chord labels with the largest summed attention over the positions holding them.

    Args:
        chord_ids: int ``[L]``, a song's chord ids.
        weights: float ``[L]``, the attention weights of those positions.
        labels: chord id -> label.
        n: how many to return (fewer if the song has fewer distinct chords).
    """
    mass = np.bincount(np.asarray(chord_ids), np.asarray(weights, np.float64), len(labels))
    order = np.argsort(-mass, kind="stable")
    return [(labels[i], float(mass[i])) for i in order[:n] if mass[i] > 0]


class ExportedModel:
    """An export loaded with ``tf.saved_model.load`` and the vocabularies beside it."""

    def __init__(self, path: str | os.PathLike) -> None:
        import tensorflow as tf

        from coat_tf.chords.vocabulary import ChordVocabulary

        self.path = resolve_export_dir(path)
        extra = self.path / EXTRA_DIR
        for name in (EXPORT_INFO, USERS_FILE, SONGS_FILE):
            if not (extra / name).is_file():
                raise ExportError(f"{extra / name}: missing (not an export of coat_tf.export)")
        hint = (
            f"Use another version under {self.path.parent}, or train and export again with the "
            f"same settings: python -m coat_tf.train --config {extra / CONFIG_FILE}"
        )
        try:
            verify_listing(self.path, f"{EXTRA_DIR}/{CHECKSUMS_FILE}", hint)
        except IntegrityError as error:
            raise ExportError(str(error)) from None
        try:
            self.info = json.loads((extra / EXPORT_INFO).read_text(encoding="utf-8"))
            users = pd.read_csv(
                extra / USERS_FILE, sep="\t", dtype={"id": str}, keep_default_na=False
            )
            self.songs = pd.read_csv(
                extra / SONGS_FILE, sep="\t", dtype={"id": str, "name": str}, keep_default_na=False
            )
            self.user_ids: list[str] = users["id"].tolist()
            self.song_ids: list[str] = self.songs["id"].tolist()
            vocabulary = extra / VOCABULARY_FILE
            self.labels = ChordVocabulary.load(vocabulary).labels if vocabulary.is_file() else []
        except (ValueError, KeyError, UnicodeDecodeError, pd.errors.ParserError) as error:
            raise ExportError(
                f"{extra}: cannot read the export's tables ({error}). {hint}"
            ) from None
        self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        try:
            self.module = tf.saved_model.load(str(self.path))
        except Exception as error:  # TensorFlow raises many types for a damaged SavedModel
            first = (str(error).strip().splitlines() or [""])[0]
            raise ExportError(
                f"{self.path}: cannot load the SavedModel ({type(error).__name__}: {first}). "
                + hint
            ) from None

    @property
    def content_signature(self) -> str | None:
        """The signature that scores a song from its content (``score_chords``,
        ``score_mfcc``), or ``None`` for a model that reads no song content."""
        for name in (SCORE_CHORDS, SCORE_MFCC):
            if name in self.module.signatures:
                return name
        return None

    def trained_on(self) -> Path:
        """The prepared data set the model was trained on (``config.json``'s ``data_dir``)."""
        path = self.path / EXTRA_DIR / CONFIG_FILE
        try:
            data_dir = json.loads(path.read_text(encoding="utf-8")).get("data_dir")
        except (OSError, ValueError, AttributeError) as error:
            raise ExportError(f"{path}: cannot read the run's configuration ({error})") from None
        if not data_dir:
            raise ExportError(f"{path}: names no data_dir; pass --data (the prepared data set)")
        return Path(data_dir)

    def load_new_songs(self, data_dir: str | os.PathLike | None = None):  # noqa: ANN201
        """The new songs (``PreparedDataset.new_songs``) of ``data_dir`` (default
        :meth:`trained_on`), checked usable by this model.

        Raises:
            ExportError: the model reads no song content; the data set is not the one the
                model was trained on, or has no new songs (an audio model: no MFCCs of them).
            coat_tf.data.DataError: the data set cannot be read.
        """
        from coat_tf.data import PreparedDataset

        if self.content_signature is None:
            raise ExportError(
                f"{self.path}: {self.info.get('model')} reads no song content (no "
                f"{SCORE_CHORDS!r} or {SCORE_MFCC!r} signature): it cannot rank new songs"
            )
        path = Path(data_dir) if data_dir is not None else self.trained_on()
        data = PreparedDataset.load(path)
        trained = self.info.get("data_content_hash")
        found = data.manifest.get("content_hash")
        if trained and found != trained:
            raise ExportError(
                f"{path}: content hash {found} differs from {trained}, the data set "
                f"{self.path} was trained on (export.json): its users and songs are others"
            )
        new_songs = getattr(data, "new_songs", None)
        if new_songs is None:
            raise ExportError(
                f"{path}: the data set has no new songs (prepared without --new-songs); "
                "prepare it with --new-songs FRACTION and train on it"
            )
        if self.content_signature == SCORE_MFCC and new_songs.mfcc is None:
            raise ExportError(
                f"{path}: the data set's new songs have no MFCCs (new_mfcc.npy), which "
                f"{self.info.get('model')} reads; prepare it with --mfcc"
            )
        return new_songs

    def recommend_new_songs(
        self,
        user: str,
        new_songs,  # noqa: ANN001 - a NewSongs (PreparedDataset.new_songs)
        k: int = 10,
        explain: int = 0,
        chunk: int = 1024,
    ) -> list[Recommendation]:
        """The top ``k`` of every new song for original user id ``user``, by
        :attr:`content_signature` on each song's content, with the ``explain`` chords of most
        attention mass for each (0: none). ``chunk`` songs are scored per call. Nothing is
        excluded: no user has a new song in training."""
        import tensorflow as tf

        if not 1 <= k <= MAX_K:
            raise ExportError(f"k must be >= 1 and at most {MAX_K} (int32), got {k}")
        index = self.user_index(user)
        signature = self.content_signature
        kind = "chord_ids" if signature == SCORE_CHORDS else "mfcc"
        content = new_songs.content(kind)
        scores = np.zeros(len(content), np.float64)
        for start in range(0, len(content), chunk):
            part = np.asarray(content[start : start + chunk])
            out = self.module.signatures[signature](
                user_id=tf.fill([len(part)], tf.constant(index, tf.int32)),
                **{kind: tf.constant(part)},
            )
            scores[start : start + len(part)] = out["score"].numpy()
        finite = np.isfinite(scores)
        order = np.argsort(np.where(finite, -scores, np.inf), kind="stable")[:k]
        if not finite[order].all():
            raise BrokenModelError(
                f"{self.path}: the model scored {int((~finite[order]).sum())} of the top "
                f"{len(order)} new songs for user {user!r} NaN or infinite, so it cannot rank "
                "them: the model is broken (its training diverged?)"
            )
        result = [
            Recommendation(rank=rank, song=new_songs.ids[s], index=int(s), score=float(scores[s]))
            for rank, s in enumerate(order, start=1)
        ]
        if explain and result:
            chords = np.asarray(content[order]) if kind == "chord_ids" else None
            self._explain_chords(index, result, chords, explain)
        return result

    @property
    def explainable(self) -> bool:
        """Whether the export has chord attention weights to show (``score_chords`` with an
        ``attention`` output: COAT and its ablations, not chord-histogram or random)."""
        signature = self.module.signatures.get(SCORE_CHORDS)
        return signature is not None and "attention" in signature.structured_outputs

    @property
    def attention_mode(self) -> str | None:
        """The model's attention mode (``export.json``; for an export written before it was
        recorded, from the model's name), or ``None`` for a model without attention."""
        if "attention_mode" in self.info:
            return self.info["attention_mode"]
        modes = {name: mode for mode, name in MODEL_NAMES.items()}
        return modes.get(self.info.get("model"))

    @property
    def explain_note(self) -> str | None:
        """What ``--explain`` adds for an ablation without attention (else ``None``)."""
        return ABLATION_NOTES.get(self.attention_mode)

    def user_index(self, user: str) -> int:
        """The index of original user id ``user``; :class:`UnknownUserError` if absent."""
        if user in self._user_index:
            return self._user_index[user]
        examples = ", ".join(self.user_ids[:5])
        raise UnknownUserError(
            f"unknown user {user!r}: not among the {len(self.user_ids)} users of "
            f"{self.path / EXTRA_DIR / USERS_FILE}; valid ids are its 'id' column "
            f"(for example: {examples})"
        )

    def recommend(self, user: str, k: int = 10, explain: int = 0) -> list[Recommendation]:
        """The top ``k`` songs for original user id ``user``, with the ``explain`` chords of
        most attention mass for each (0: none)."""
        import tensorflow as tf

        if not 1 <= k <= MAX_K:
            raise ExportError(f"k must be >= 1 and at most {MAX_K} (int32), got {k}")
        index = self.user_index(user)
        out = self.module.signatures[RECOMMEND](
            user_id=tf.constant([index], tf.int32), k=tf.constant(k, tf.int32)
        )
        song_ids = out["song_ids"].numpy()[0]
        scores = out["scores"].numpy()[0]
        keep = song_ids >= 0
        song_ids, scores = song_ids[keep], scores[keep]
        names = self.songs["name"].tolist() if "name" in self.songs else None
        flags = self.songs["has_chords"].tolist() if "has_chords" in self.songs else None
        result = [
            Recommendation(
                rank=rank,
                song=self.song_ids[s],
                index=int(s),
                score=float(score),
                name=names[s] if names else "",
                has_chords=bool(flags[s]) if flags else None,
            )
            for rank, (s, score) in enumerate(zip(song_ids, scores, strict=True), start=1)
        ]
        self._check_scores(user, index, k, len(result))
        if explain and len(result):
            self._explain(index, result, explain)
        return result

    def _check_scores(self, user: str, index: int, k: int, returned: int) -> None:
        """Fewer songs than remain after the exclusions means the rest scored NaN or inf."""
        splits = getattr(self.module, "exclusion_splits", None)
        if splits is None:
            return
        bounds = splits.numpy()
        excluded = int(bounds[index + 1] - bounds[index])
        expected = min(k, len(self.song_ids) - excluded)
        if returned < expected:
            raise BrokenModelError(
                f"{self.path}: the model scored {expected - returned} of the top {expected} "
                f"songs for user {user!r} NaN or infinite, so it cannot rank them: the model "
                "is broken (its training diverged?). Use another version, or retrain with a "
                "smaller learning rate."
            )

    def _nothing_to_explain(self) -> ExportError:
        return ExportError(
            f"{self.path}: model {self.info.get('model')!r} has no chord attention "
            f"(no {SCORE_CHORDS!r} signature with attention weights), so there is "
            "nothing to explain"
        )

    def _explain(self, user: int, result: list[Recommendation], n: int) -> None:
        import tensorflow as tf

        if not self.explainable:
            raise self._nothing_to_explain()
        songs = tf.constant([r.index for r in result], tf.int32)
        self._explain_chords(user, result, self.module.song_chords(songs).numpy(), n)

    def _explain_chords(
        self, user: int, result: list[Recommendation], chord_ids: np.ndarray | None, n: int
    ) -> None:
        """Set each recommendation's ``n`` chords of most attention mass, from the attention
        ``score_chords`` gives user index ``user`` over ``chord_ids [len(result), L]``."""
        import tensorflow as tf

        if not self.explainable or chord_ids is None:
            raise self._nothing_to_explain()
        out = self.module.signatures[SCORE_CHORDS](
            user_id=tf.fill([len(result)], tf.constant(user, tf.int32)),
            chord_ids=tf.constant(chord_ids, tf.int32),
        )
        weights = out["attention"].numpy()
        for row, rec in enumerate(result):
            rec.chords = top_chords(chord_ids[row], weights[row], self.labels, n)


def format_table(
    user: str,
    model: ExportedModel,
    result: list[Recommendation],
    k: int,
    explain: bool = False,
    new_songs: int | None = None,
) -> str:
    """The recommendations as aligned text lines (with ``explain``, the chords' note); with
    ``new_songs`` (their number), the top among the data set's new songs."""
    if new_songs is not None:
        lines = [
            f"top {k} of the {new_songs} new songs (no listening history) for user {user} "
            f"from {model.path}"
        ]
    else:
        exclude = model.info.get("exclude", "train")
        what = "training songs" if exclude == "train" else "training, validation and test songs"
        lines = [f"top {k} songs for user {user} from {model.path} ({what} excluded)"]
        if len(result) < k:
            lines.append(f"only {len(result)} songs are left after the exclusions")
    width = max([len("song"), *(len(r.song) for r in result)])
    lines.append(f"{'rank':>4}  {'song':<{width}}  {'score':>8}  name")
    for r in result:
        lines.append(f"{r.rank:>4}  {r.song:<{width}}  {r.score:8.6f}  {r.name}".rstrip())
        if r.chords:
            chords = ", ".join(f"{label} {mass:.2f}" for label, mass in r.chords)
            note = "  (no chords extracted)" if r.has_chords is False else ""
            lines.append(f"{'':>4}  chords: {chords}{note}")
    if explain and model.explain_note:
        lines.append(f"({model.explain_note})")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m coat_tf.recommend",
        description="Top-k songs for a user from an exported model (coat_tf.export).",
    )
    add_version_option(parser)
    parser.add_argument("--model", required=True, help="version folder or model folder")
    parser.add_argument("--user", required=True, help="original user id (users.tsv 'id')")
    parser.add_argument("--k", type=int, default=10, help="songs to recommend (default 10)")
    parser.add_argument(
        "--explain", action="store_true", help="show the chords the attention weighed most"
    )
    parser.add_argument(
        "--top-chords", type=int, default=3, help="chords shown per song with --explain"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--new-songs",
        action="store_true",
        help="rank the data set's new songs (prepare --new-songs) instead of the catalogue: "
        "songs with no listening history, scored from their chords or MFCCs with the mean song "
        "embedding in place of their own; none is excluded (COAT and the audio models only)",
    )
    parser.add_argument(
        "--data",
        help="with --new-songs: the prepared data set whose new songs are ranked (default: the "
        "one the model was trained on, config.json's data_dir)",
    )
    return parser


def write_output(text: str) -> bool:
    """Print ``text`` to standard output; False if its reader has gone (``... | head -1``
    closed the pipe). Standard output then points at ``os.devnull``, so that Python's last
    flush at exit does not fail again (Python's documented handling of ``EPIPE``)."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    for option, value in (("--k", args.k), ("--top-chords", args.top_chords)):
        if not 1 <= value <= MAX_K:
            print(
                f"error: {option} must be >= 1 and at most {MAX_K} (int32), got {value}",
                file=sys.stderr,
            )
            return 2
    if args.data is not None and not args.new_songs:
        print("error: --data applies to --new-songs only", file=sys.stderr)
        return 2
    from coat_tf.data import DataError

    new_songs = None
    explain = args.top_chords if args.explain else 0
    try:
        model = ExportedModel(args.model)
        if args.new_songs:
            new_songs = model.load_new_songs(args.data)
            result = model.recommend_new_songs(args.user, new_songs, args.k, explain)
        else:
            result = model.recommend(args.user, args.k, explain)
    except (ExportError, UnknownUserError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        payload = {
            "model": str(model.path),
            "user": args.user,
            "user_index": model.user_index(args.user),
            "k": args.k,
            "attention_mode": model.attention_mode,
            **({"new_songs": len(new_songs.ids)} if new_songs is not None else {}),
            **({"note": model.explain_note} if args.explain and model.explain_note else {}),
            "recommendations": [
                {**asdict(r), "chords": [{"label": c, "mass": m} for c, m in r.chords]}
                for r in result
            ],
        }
        text = json.dumps(payload, indent=2, ensure_ascii=False)
    else:
        count = len(new_songs.ids) if new_songs is not None else None
        text = format_table(args.user, model, result, args.k, args.explain, count)
    return 0 if write_output(text) else 1


if __name__ == "__main__":
    sys.exit(main())
