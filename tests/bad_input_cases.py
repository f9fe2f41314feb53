"""The bad-input corpus: what a hostile (or hurried) user feeds each command.

Each :class:`Case` builds its own inputs in a fresh folder (:class:`Env`), runs one command's
``main([...])`` in this process, and states the exit status and the words the message must
hold: the file, line or option at fault, and the reason. ``tests/test_bad_inputs.py`` runs
them all and checks that no traceback is printed.

Exit statuses (README, "Errors and recovery"): 2 bad input or usage, 1 a run or a batch that
failed (divergence, every audio file unreadable, a model that scores NaN).
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tests.test_chords_extract import bad_files

EVENTS_HEADER = "user_id\ttrack_id\ttimestamp"
T0 = 1_400_000_000


@dataclass
class Env:
    """Inputs of one case: a fresh folder, and fresh copies of the shared fixtures."""

    tmp: Path
    fixtures: dict[str, Path]

    def copy(self, name: str) -> Path:
        """A copy of fixture ``name`` (a folder) in :attr:`tmp`, free to damage."""
        target = self.tmp / name
        if not target.exists():
            shutil.copytree(self.fixtures[name], target)
        return target

    @cached_property
    def data(self) -> Path:
        """A copy of the tiny prepared data set."""
        return self.copy("data")

    @cached_property
    def export(self) -> Path:
        """A copy of a tiny export's version folder."""
        return self.copy("export")

    @cached_property
    def bad_audio(self) -> Path:
        """A folder of audio files that all fail (corrupt, empty, silent)."""
        folder = self.tmp / "audio"
        folder.mkdir()
        files = bad_files(folder)
        files["missing"].with_suffix(".txt").write_text("not audio")  # and a non-audio file
        return folder

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def events(self, name: str, lines: list[str], header: str = EVENTS_HEADER) -> Path:
        return self.write(name, "\n".join([header, *lines]) + "\n")


@dataclass(frozen=True)
class Case:
    """One bad input: the command, its arguments, the exit status and the message's words."""

    name: str
    command: str  # train, prepare (python -m coat_tf.data), chords, recommend
    argv: Callable[[Env], list[str]]
    code: int
    says: tuple[str, ...]
    check: Callable[[Env], None] | None = field(default=None, compare=False)


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def flip_byte(path: Path) -> Path:
    """Change one byte in the middle: same size, other content."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def good_events(count: int = 40) -> list[str]:
    return [f"u{i % 4}\ts{i % 13}\t{T0 + i}" for i in range(count)]


def _prepare(env: Env, *options: str, source: str = "events", events: Path | None = None):
    events = events or env.events("events.tsv", good_events())
    return ["prepare", "--source", source, "--input", str(events), "--quiet", *options] + [
        "--out",
        str(env.tmp / "out"),
    ]


def _prepare_with(*options: str) -> Callable[[Env], list[str]]:
    return lambda env: _prepare(env, *options)


def _train(env: Env, *options: str) -> list[str]:
    return ["--run-dir", str(env.tmp / "run"), "--no-export", "--quiet", *options]


def _train_on_data(*options: str) -> Callable[[Env], list[str]]:
    return lambda env: _train(env, "--data", str(env.data), *options)


def _extract(env: Env, source: Path, *options: str) -> list[str]:
    out = env.tmp / "chords_out"
    return ["extract", str(source), "--out", str(out), "--workers", "1", "--quiet", *options]


def _recommend(env: Env, model: Path, *options: str) -> list[str]:
    return ["--model", str(model), "--user", "u1", *options]


def _damaged_data(damage: Callable[[Path], object], command: str = "train") -> Callable:
    def argv(env: Env) -> list[str]:
        damage(env.data)
        if command == "stats":
            return ["stats", str(env.data)]
        return _train(env, "--data", str(env.data))

    return argv


def _damaged_export(damage: Callable[[Path], object]) -> Callable[[Env], list[str]]:
    def argv(env: Env) -> list[str]:
        damage(env.export)
        return _recommend(env, env.export)

    return argv


def _old_manifest(folder: Path) -> None:
    """A data set written before manifests listed their files, then damaged."""
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    flip_byte(folder / "train.tsv")


def _unfinished_run(env: Env) -> list[str]:
    run = env.tmp / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "best.json").write_text('{"epoch": 3, "val_ndcg": 0.2}')
    return _train(env, "--data", str(env.data))


def _nothing_created(path: Path) -> None:
    assert not path.exists(), f"{path} was created"


def _no_export_written(env: Env) -> None:
    run = env.tmp / "run"
    report = json.loads((run / "failure.json").read_text())
    assert report["error"] == "TrainingDiverged" and report["epoch"] == 1
    assert not (run / "metrics.json").exists()
    assert not (env.tmp / "saved").exists()


def _diverge(model: str) -> Callable[[Env], list[str]]:
    def argv(env: Env) -> list[str]:
        return [
            *_train(env, "--data", str(env.data), "--model", model),
            *["--learning-rate", "1e30", "--epochs", "2", "--embedding-size", "8", "--no-xla"],
            *["--export-dir", str(env.tmp / "saved")],
        ]

    return argv


AUDIO = [
    Case(
        "extract-empty-folder",
        "chords",
        lambda env: _extract(env, env.write("empty/.keep", "").parent),
        2,
        ("empty", "no audio files"),
    ),
    Case(
        "extract-folder-without-audio",
        "chords",
        lambda env: _extract(env, env.write("docs/readme.txt", "hi").parent),
        2,
        ("docs", "no audio files", ".wav"),
    ),
    Case(
        "extract-missing-input",
        "chords",
        lambda env: _extract(env, env.tmp / "nowhere"),
        2,
        ("nowhere", "no such folder or list file"),
    ),
    Case(
        "extract-every-file-fails",
        "chords",
        lambda env: _extract(env, env.bad_audio),
        1,
        ("all 4 input files failed", "failures.tsv"),
    ),
    Case(
        "mfcc-every-file-fails",
        "chords",
        lambda env: ["mfcc", *_extract(env, env.bad_audio)[1:]],
        1,
        ("all 4 input files failed", "failures.tsv"),
    ),
    Case(
        "mfcc-empty-folder",
        "chords",
        lambda env: ["mfcc", *_extract(env, env.write("none/.keep", "").parent)[1:]],
        2,
        ("none", "no audio files"),
    ),
    Case(
        "extract-out-is-a-file",
        "chords",
        lambda env: [
            *_extract(env, env.bad_audio)[:2],
            *["--out", str(env.write("out.txt", "x")), "--quiet"],
        ],
        2,
        ("--out", "out.txt", "is a file"),
    ),
    Case(
        "list-file-bad-utf8",
        "chords",
        lambda env: _extract(env, env.write("songs.list", b"a.wav\n\xff\xfeb.wav\n")),
        2,
        ("songs.list:2", "not UTF-8"),
    ),
    Case(
        "list-file-three-columns",
        "chords",
        lambda env: _extract(env, env.write("songs.list", "a.wav\tid\textra\n")),
        2,
        ("songs.list:1", "PATH<TAB>SONG_ID"),
    ),
    Case(
        "list-file-repeated-id",
        "chords",
        lambda env: _extract(env, env.write("songs.list", "a.wav\tx\nb.wav\tx\n")),
        2,
        ("songs.list", "'x' appears twice"),
    ),
    Case(
        "list-file-only-comments",
        "chords",
        lambda env: _extract(env, env.write("songs.list", "# nothing yet\n\n")),
        2,
        ("songs.list", "names no audio files"),
    ),
    Case(
        "stop-on-error-missing-audio",
        "chords",
        lambda env: _extract(env, env.write("songs.list", "gone.mp3\n"), "--stop-on-error"),
        1,
        ("gone.mp3", "file not found"),
    ),
    Case(
        "stop-on-error-corrupt-audio",
        "chords",
        lambda env: _extract(
            env, env.write("one.list", f"{env.bad_audio / 'corrupt.wav'}\n"), "--stop-on-error"
        ),
        1,
        ("corrupt.wav", "cannot decode audio", "damaged or truncated"),
    ),
    Case(
        "extract-workers-zero",
        "chords",
        lambda env: _extract(env, env.bad_audio)[:5] + ["0"],
        2,
        ("--workers", "positive integer"),
    ),
    Case(
        "extract-sample-rate-too-low",
        "chords",
        lambda env: _extract(env, env.bad_audio, "--sample-rate", "100"),
        2,
        ("sample_rate", "4000..192000"),
    ),
    Case(
        "mfcc-excerpt-zero",
        "chords",
        lambda env: ["mfcc", *_extract(env, env.bad_audio, "--excerpt-seconds", "0")[1:]],
        2,
        ("excerpt_seconds", "positive"),
    ),
]

LOGS = [
    Case(
        "events-missing",
        "prepare",
        lambda env: _prepare(env, events=env.tmp / "gone.tsv"),
        2,
        ("gone.tsv", "no such file"),
    ),
    Case(
        "events-header-without-timestamp",
        "prepare",
        lambda env: _prepare(env, events=env.events("e.tsv", ["u\ts"], "user_id\ttrack_id")),
        2,
        ("e.tsv:1", "lacks column", "timestamp"),
    ),
    Case(
        "events-header-not-utf8",
        "prepare",
        lambda env: _prepare(env, events=env.write("e.tsv", b"user_id\ttr\xffack\ttimestamp\n")),
        2,
        ("e.tsv:1", "not UTF-8"),
    ),
    Case(
        "events-empty-file",
        "prepare",
        lambda env: _prepare(env, events=env.write("e.tsv", "")),
        2,
        ("e.tsv:1", "empty file"),
    ),
    Case(
        "events-bad-timestamp-text",
        "prepare",
        lambda env: _prepare(env, events=env.events("e.tsv", ["u\ts\t1400000000", "u\ts\tnoon"])),
        2,
        ("e.tsv:3", "timestamp", "not a timestamp"),
    ),
    Case(
        "events-in-microseconds",
        "prepare",
        lambda env: _prepare(env, events=env.events("e.tsv", ["u1\ts1\t1400000000123456"])),
        2,
        ("e.tsv:2", "not plausible as Unix seconds", "microseconds"),
    ),
    Case(
        "events-in-milliseconds",
        "prepare",
        lambda env: _prepare(
            env, events=env.events("e.tsv", [*good_events(5), "u1\ts1\t1400000000123"])
        ),
        2,
        ("e.tsv:7", "the year 46,334", "milliseconds"),
    ),
    Case(
        "events-negative-timestamp",
        "prepare",
        lambda env: _prepare(env, events=env.events("e.tsv", ["u1\ts1\t-5"])),
        2,
        ("e.tsv:2", "before 1970"),
    ),
    Case(
        "events-iso-year-far-ahead",
        "prepare",
        lambda env: _prepare(env, events=env.events("e.tsv", ["u1\ts1\t2900-01-01T00:00:00"])),
        2,
        ("e.tsv:2", "'2900-01-01T00:00:00' is not a plausible listening time"),
    ),
    Case(
        "events-bad-utf8-line",
        "prepare",
        lambda env: _prepare(
            env,
            events=env.write(
                "e.tsv",
                f"{EVENTS_HEADER}\nu\ts\t{T0}\nu\t~\t{T0}\n".replace("~", "\udcff").encode(
                    "utf-8", "surrogateescape"
                ),
            ),
        ),
        2,
        ("e.tsv:3", "not UTF-8"),
    ),
    Case(
        "events-too-few-columns",
        "prepare",
        lambda env: _prepare(env, events=env.events("e.tsv", ["u\ts"])),
        2,
        ("e.tsv:2", "expected 3 columns, found 2"),
    ),
    Case(
        "events-truncated-gzip",
        "prepare",
        lambda env: _prepare(
            env,
            events=truncate(
                env.write(
                    "e.tsv.gz",
                    gzip.compress("\n".join([EVENTS_HEADER, *good_events(3000)]).encode()),
                )
            ),
        ),
        2,
        ("e.tsv.gz", "truncated"),
    ),
    Case(
        "events-not-gzip",
        "prepare",
        lambda env: _prepare(env, events=env.write("e.tsv.gz", "user_id\ttrack_id\n")),
        2,
        ("e.tsv.gz", "not valid gzip data"),
    ),
    Case(
        "lfm1b-folder-without-events",
        "prepare",
        lambda env: _prepare(env, source="lfm1b", events=env.write("lfm/x.txt", "").parent),
        2,
        ("LFM-1b_LEs.txt", "no such file"),
    ),
    Case(
        "movielens-without-test-file",
        "prepare",
        lambda env: _prepare(
            env,
            source="movielens",
            events=env.write("ml/train.tsv", "user_id\tmovie_id\n1\t2\n").parent,
        ),
        2,
        ("test.tsv", "no such file"),
    ),
    Case(
        "too-few-users-to-split",
        "prepare",
        _prepare_with(),
        2,
        ("no users left to split", "99 songs they never heard"),
    ),
    Case(
        "no-input-option",
        "prepare",
        lambda env: ["prepare", "--source", "events", "--out", str(env.tmp / "o")],
        2,
        ("--source events needs --input",),
    ),
    Case("top-songs-zero", "prepare", _prepare_with("--top-songs", "0"), 2, ("--top-songs", "'0'")),
    Case(
        "top-songs-text",
        "prepare",
        _prepare_with("--top-songs", "many"),
        2,
        ("--top-songs", "positive integer or 'none'"),
    ),
    Case(
        "min-user-interactions-negative",
        "prepare",
        _prepare_with("--min-user-interactions", "-3"),
        2,
        ("--min-user-interactions", "positive integer or 'none'"),
    ),
    Case(
        "since-not-a-date",
        "prepare",
        _prepare_with("--since", "2014-13-01"),
        2,
        ("--since", "YYYY-MM-DD"),
    ),
    Case(
        "eval-negatives-zero",
        "prepare",
        _prepare_with("--eval-negatives", "0"),
        2,
        ("--eval-negatives", "positive integer"),
    ),
    Case("shards-zero", "prepare", _prepare_with("--shards", "0"), 2, ("--shards", "positive")),
    Case(
        "seed-negative",
        "prepare",
        _prepare_with("--seed", "-1"),
        2,
        ("seed must be a non-negative integer", "-1"),
    ),
    Case(
        "source-unknown",
        "prepare",
        lambda env: ["prepare", "--source", "spotify", "--out", str(env.tmp / "o")],
        2,
        ("--source", "invalid choice: 'spotify'"),
    ),
    Case(
        "out-is-a-file",
        "prepare",
        lambda env: [*_prepare(env)[:-1], str(env.write("out", "x"))],
        2,
        ("out", "is a file"),
    ),
    Case(
        "out-exists",
        "prepare",
        lambda env: [*_prepare(env)[:-1], str(env.data)],
        2,
        ("already exists", "--overwrite"),
    ),
    Case(
        "overwrite-an-unrelated-folder",
        "prepare",
        lambda env: [*_prepare(env)[:-1], str(env.write("mine/a.txt", "x").parent), "--overwrite"],
        2,
        ("mine", "not a prepared data set", "only replaces a prepared data set"),
    ),
]

PREPARED = [
    Case(
        "chords-npy-truncated",
        "train",
        _damaged_data(lambda d: truncate(d / "chords.npy")),
        2,
        ("chords.npy", "damaged", "bytes where", "Rebuild it with: python -m coat_tf.data"),
    ),
    Case(
        "chords-npy-corrupt",
        "train",
        _damaged_data(lambda d: flip_byte(d / "chords.npy")),
        2,
        ("chords.npy", "content differs from the checksum", "--overwrite"),
    ),
    Case(
        "tfrecord-shard-truncated",
        "train",
        _damaged_data(lambda d: truncate(d / "tfrecords" / "train-00001-of-00002.tfrecord")),
        2,
        ("train-00001-of-00002.tfrecord", "damaged"),
    ),
    Case(
        "tfrecord-shard-missing",
        "train",
        _damaged_data(lambda d: (d / "tfrecords" / "train-00000-of-00002.tfrecord").unlink()),
        2,
        ("train-00000-of-00002.tfrecord", "missing"),
    ),
    Case(
        "tfrecord-shard-stray",
        "train",
        _damaged_data(
            lambda d: shutil.copy(
                d / "tfrecords" / "train-00000-of-00002.tfrecord",
                d / "tfrecords" / "train-00000-of-00003.tfrecord",
            )
        ),
        2,
        ("train-00000-of-00003.tfrecord", "not part of the prepared data set"),
    ),
    Case(
        "train-tsv-missing",
        "train",
        _damaged_data(lambda d: (d / "train.tsv").unlink()),
        2,
        ("train.tsv", "missing"),
    ),
    Case(
        "manifest-not-json",
        "train",
        _damaged_data(lambda d: truncate(d / "manifest.json", 0.3)),
        2,
        ("manifest.json", "not valid JSON", "Rebuild it"),
    ),
    Case(
        "old-manifest-content-hash",
        "train",
        _damaged_data(_old_manifest),
        2,
        ("content_hash", "damaged"),
    ),
    Case(
        "stats-on-damaged-data",
        "prepare",
        _damaged_data(lambda d: truncate(d / "valid.npz"), command="stats"),
        2,
        ("valid.npz", "damaged"),
    ),
    Case(
        "data-is-a-file",
        "train",
        lambda env: _train(env, "--data", str(env.write("data.tsv", "x"))),
        2,
        ("data.tsv", "is a file"),
    ),
    Case(
        "data-not-prepared",
        "train",
        lambda env: _train(env, "--data", str(env.write("raw/a.tsv", "x").parent)),
        2,
        ("manifest.json", "not a prepared data set"),
    ),
]

CONFIGS = [
    Case(
        "config-not-json",
        "train",
        lambda env: _train(env, "--config", str(env.write("run.json", '{"train": {,}}'))),
        2,
        ("run.json:1", "not valid JSON"),
    ),
    Case(
        "config-missing",
        "train",
        lambda env: _train(env, "--config", str(env.tmp / "gone.json")),
        2,
        ("gone.json", "no such file"),
    ),
    Case(
        "config-not-utf8",
        "train",
        lambda env: _train(env, "--config", str(env.write("run.json", b'{"model_name": "\xff"}'))),
        2,
        ("run.json", "not UTF-8"),
    ),
    Case(
        "config-unknown-field",
        "train",
        lambda env: _train(
            env, "--config", str(env.write("run.json", '{"model": {"embeding_size": 8}}'))
        ),
        2,
        ("run.json", "model", "unknown ModelConfig field(s): embeding_size"),
    ),
    Case(
        "config-learning-rate-text",
        "train",
        lambda env: _train(
            env, "--config", str(env.write("run.json", '{"train": {"learning_rate": "0.01"}}'))
        ),
        2,
        ("run.json", "learning_rate must be a finite positive number", "'0.01'"),
    ),
    Case(
        "learning-rate-inf",
        "train",
        _train_on_data("--learning-rate", "inf"),
        2,
        ("learning_rate must be a finite positive number, got inf",),
    ),
    Case(
        "learning-rate-nan",
        "train",
        _train_on_data("--learning-rate", "nan"),
        2,
        ("learning_rate", "got nan"),
    ),
    Case(
        "learning-rate-negative",
        "train",
        _train_on_data("--learning-rate", "-0.1"),
        2,
        ("learning_rate", "-0.1"),
    ),
    Case(
        "embedding-size-zero",
        "train",
        _train_on_data("--embedding-size", "0"),
        2,
        ("embedding_size must be a positive integer, got 0",),
    ),
    Case("batch-size-zero", "train", _train_on_data("--batch-size", "0"), 2, ("batch_size",)),
    Case("epochs-zero", "train", _train_on_data("--epochs", "0"), 2, ("epochs", "got 0")),
    Case(
        "epochs-not-a-number",
        "train",
        _train_on_data("--epochs", "ten"),
        2,
        ("--epochs", "invalid int value: 'ten'"),
    ),
    Case(
        "model-unknown",
        "train",
        _train_on_data("--model", "bert"),
        2,
        ("--model", "invalid choice: 'bert'"),
    ),
    Case(
        "devices-too-many",
        "train",
        _train_on_data("--devices", "64"),
        2,
        ("--devices 64", "devices are visible"),
    ),
]

RUNS = [
    Case(
        "resume-without-run-dir",
        "train",
        lambda env: ["--resume", "--quiet"],
        2,
        ("--resume needs --run-dir",),
    ),
    Case(
        "resume-a-run-that-does-not-exist",
        "train",
        lambda env: ["--resume", "--run-dir", str(env.tmp / "typo"), "--quiet"],
        2,
        ("typo", "holds no run to continue", "no config.json"),
        check=lambda env: _nothing_created(env.tmp / "typo"),
    ),
    Case(
        "run-dir-is-a-file",
        "train",
        lambda env: [
            *_train(env, "--data", str(env.data))[2:],
            "--run-dir",
            str(env.write("r", "")),
        ],
        2,
        ("--run-dir", "is a file"),
    ),
    Case(
        "run-dir-holds-a-finished-run",
        "train",
        lambda env: [*_train(env, "--data", str(env.data))[2:], "--run-dir", str(env.copy("run"))],
        2,
        ("holds a finished run", "metrics.json", "another --run-dir"),
    ),
    Case(
        "resume-a-finished-run",
        "train",
        lambda env: ["--resume", "--run-dir", str(env.copy("run")), "--quiet"],
        2,
        ("holds a finished run", "nothing to resume"),
    ),
    Case(
        "run-dir-holds-a-killed-run",
        "train",
        _unfinished_run,
        2,
        ("holds an unfinished run", "pass --resume"),
    ),
    Case(
        "gmf-diverges",
        "train",
        _diverge("gmf"),
        1,
        ("training diverged", "epoch 1", "smaller --learning-rate", "failure.json"),
        check=_no_export_written,
    ),
    Case(
        "coat-diverges",
        "train",
        _diverge("coat"),
        1,
        ("training diverged", "epoch 1", "failure.json"),
        check=_no_export_written,
    ),
]

EXPORTS = [
    Case(
        "export-missing",
        "recommend",
        lambda env: _recommend(env, env.tmp / "saved_models" / "coat"),
        2,
        ("saved_models/coat", "no such folder"),
    ),
    Case(
        "export-folder-without-versions",
        "recommend",
        lambda env: _recommend(env, env.write("saved/readme.txt", "x").parent),
        2,
        ("saved", "neither a SavedModel"),
    ),
    Case(
        "saved-model-pb-corrupt",
        "recommend",
        _damaged_export(lambda e: flip_byte(e / "saved_model.pb")),
        2,
        ("saved_model.pb", "content differs from the checksum", "train and export again"),
    ),
    Case(
        "saved-model-pb-truncated",
        "recommend",
        _damaged_export(lambda e: truncate(e / "saved_model.pb")),
        2,
        ("saved_model.pb", "damaged", "bytes where"),
    ),
    Case(
        "variables-truncated",
        "recommend",
        _damaged_export(lambda e: truncate(next((e / "variables").glob("*.data-*")))),
        2,
        ("variables.data-", "damaged"),
    ),
    Case(
        "checksums-not-json",
        "recommend",
        _damaged_export(lambda e: truncate(e / "assets.extra" / "checksums.json", 0.2)),
        2,
        ("checksums.json", "not valid JSON"),
    ),
    Case(
        "unlisted-export-with-corrupt-pb",
        "recommend",
        _damaged_export(
            lambda e: [
                (e / "assets.extra" / "checksums.json").unlink(),
                (e / "saved_model.pb").write_bytes(b"\x00garbage"),
            ]
        ),
        2,
        ("cannot load the SavedModel", "train and export again"),
    ),
    Case(
        "users-table-missing",
        "recommend",
        _damaged_export(lambda e: (e / "assets.extra" / "users.tsv").unlink()),
        2,
        ("users.tsv", "missing"),
    ),
    Case(
        "unknown-user",
        "recommend",
        lambda env: [*_recommend(env, env.export)[:3], "nobody"],
        2,
        ("unknown user 'nobody'", "users.tsv"),
    ),
    Case(
        "k-zero",
        "recommend",
        lambda env: [*_recommend(env, env.export), "--k", "0"],
        2,
        ("--k", ">= 1"),
    ),
    Case(
        "model-scores-nan",
        "recommend",
        lambda env: _recommend(env, env.copy("nan_export")),
        1,
        ("NaN or infinite", "u1", "retrain"),
    ),
    # export, recommend, the recorded config and --top-k
    Case(
        "k-beyond-int32",
        "recommend",
        lambda env: [*_recommend(env, env.export), "--k", "3000000000"],
        2,
        ("--k", "at most 2147483647", "got 3000000000"),
    ),
    Case(
        "top-chords-beyond-int32",
        "recommend",
        lambda env: [*_recommend(env, env.export), "--explain", "--top-chords", str(2**40)],
        2,
        ("--top-chords", "at most 2147483647"),
    ),
    Case(
        "top-k-beyond-the-candidate-list",
        "train",
        _train_on_data("--top-k", "101"),
        2,
        ("top_k (--top-k) is 101", "100 songs per user", "99 stored negatives"),
        check=lambda env: _nothing_created(env.tmp / "run" / "config.json"),
    ),
    Case("top-k-zero", "train", _train_on_data("--top-k", "0"), 2, ("top_k", "got 0")),
    Case("top-k-negative", "train", _train_on_data("--top-k", "-5"), 2, ("top_k", "got -5")),
    Case(
        "config-ablation-with-another-attention",
        "train",
        lambda env: _train(
            env,
            "--data",
            str(env.data),
            "--config",
            str(
                env.write(
                    "run.json",
                    '{"model_name": "coat-ones", "model": {"attention_mode": "uniform"}}',
                )
            ),
        ),
        2,
        ("run.json", "attention_mode is 'uniform'", "'coat-ones'", "'coat-uniform'"),
    ),
]

CASES = AUDIO + LOGS + PREPARED + CONFIGS + RUNS + EXPORTS
