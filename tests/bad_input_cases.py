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

# experiments (python -m coat_tf.experiments)


def _experiments(env: Env, *options: str, seeds: str = "0", factors: str = "8") -> list[str]:
    out = str(env.tmp / "out")
    return ["ncf", "--data", str(env.data), "--out", out, "--models", "gmf", "--seeds", seeds] + [
        *["--factors", factors, "--epochs", "1", "--no-full-catalogue", *options]
    ]


def _experiments_config(text: str) -> Callable[[Env], list[str]]:
    return lambda env: _experiments(env, "--config", str(env.write("config.json", text)))


def _experiments_run(damage: Callable[[Path], object]) -> Callable[[Env], list[str]]:
    """The arguments, after ``damage`` to the planned run's folder (not yet created)."""

    def argv(env: Env) -> list[str]:
        damage(env.tmp / "out" / "runs" / "gmf" / "f8" / "seed0")
        return _experiments(env)

    return argv


def _other_epochs_run(folder: Path) -> None:
    from coat_tf import config as cfg
    from coat_tf.config import RunConfig, TrainConfig

    folder.mkdir(parents=True)
    cfg.save(RunConfig(train=TrainConfig(epochs=7), model_name="gmf"), folder / "config.json")


def _no_experiment_out(env: Env) -> None:
    _nothing_created(env.tmp / "out")


CASES += [
    *[
        Case(
            f"experiments-config-{name}",
            "experiments",
            _experiments_config(text),
            2,
            says,
            _no_experiment_out,
        )
        for name, text, says in [
            ("a-number", "5", ("config.json", "expected a JSON object", "got int")),
            ("null", "null", ("config.json", "got null")),
            ("a-list", "[]", ("config.json", "got list")),
            ("not-json", '{"defaults": ', ("config.json:1", "not valid JSON")),
            ("unknown-key", '{"default": {}}', ("config.json", "default: unknown key")),
            ("defaults-a-list", '{"defaults": []}', ("config.json", "defaults", "got list")),
            (
                "defaults-wrong-type",
                '{"defaults": {"train": {"learning_rate": "fast"}}}',
                ("config.json", "defaults", "learning_rate"),
            ),
            ("models-a-list", '{"models": ["gmf"]}', ("config.json", "models", "got list")),
            ("model-entry-a-number", '{"models": {"gmf": 3}}', ("models.gmf", "got int")),
            (
                "model-entry-wrong-type",
                '{"models": {"gmf": {"train": 3}}}',
                ("models.gmf", "train"),
            ),
            (
                "unknown-model",
                '{"models": {"bpr": {}}}',
                ("config.json", "models.bpr", "unknown model"),
            ),
            (
                "bad-model-name",
                '{"models": {"gmf": {"model_name": "mlp"}}}',
                ("models.gmf.model_name", "'mlp'"),
            ),
            (
                "model-name-in-defaults",
                '{"defaults": {"model_name": "coat"}}',
                ("defaults.model_name", "--models"),
            ),
        ]
    ],
    Case(
        "experiments-tuned-missing",
        "experiments",
        lambda env: _experiments(env, "--tuned", str(env.tmp / "nowhere")),
        2,
        ("--tuned", "nowhere", "no such folder"),
        _no_experiment_out,
    ),
    Case(
        "experiments-tuned-best-config-damaged",
        "experiments",
        lambda env: [
            env.write("tuning/gmf/best_config.json", '{"train": '),
            *_experiments(env, "--tuned", str(env.tmp / "tuning")),
        ][1:],
        2,
        ("best_config.json:1", "not valid JSON"),
        _no_experiment_out,
    ),
    Case(
        "experiments-seed-too-large",
        "experiments",
        lambda env: _experiments(env, seeds="4294967296"),
        2,
        ("--seeds", "4294967296", "outside 0..4294967295"),
        _no_experiment_out,
    ),
    Case(
        "experiments-seed-negative",
        "experiments",
        lambda env: _experiments(env, seeds="-1"),
        2,
        ("--seeds", "-1"),
        _no_experiment_out,
    ),
    Case(
        "experiments-factors-zero",
        "experiments",
        lambda env: _experiments(env, factors="0"),
        2,
        ("--factors", "0", "not a positive"),
        _no_experiment_out,
    ),
    Case(
        "experiments-out-is-a-file",
        "experiments",
        lambda env: [env.write("out", "x"), *_experiments(env)][1:],
        2,
        ("--out", "is a file"),
    ),
    Case(
        "experiments-run-folder-is-a-file",
        "experiments",
        _experiments_run(lambda f: [f.parent.mkdir(parents=True), f.write_text("x")]),
        2,
        ("seed0", "is a file, not a run folder"),
    ),
    Case(
        "experiments-claim-lock-is-a-folder",
        "experiments",
        _experiments_run(lambda f: (f / "claim.lock").mkdir(parents=True)),
        2,
        ("claim.lock", "is not a file"),
    ),
    Case(
        "experiments-metrics-truncated",
        "experiments",
        _experiments_run(
            lambda f: [f.mkdir(parents=True), (f / "metrics.json").write_text('{"test": {')]
        ),
        2,
        ("seed0/metrics.json:1", "not valid JSON"),
    ),
    Case(
        "experiments-run-config-truncated",
        "experiments",
        _experiments_run(
            lambda f: [f.mkdir(parents=True), (f / "config.json").write_text('{"model": ')]
        ),
        2,
        ("seed0/config.json:1", "not valid JSON"),
    ),
    Case(
        "experiments-metrics-not-figures",
        "experiments",
        _experiments_run(lambda f: [f.mkdir(parents=True), (f / "metrics.json").write_text("{}")]),
        2,
        ("seed0/metrics.json", "not the figures of a finished run"),
    ),
    Case(
        "experiments-run-of-other-settings",
        "experiments",
        _experiments_run(_other_epochs_run),
        2,
        ("seed0 holds a run of another plan", "train.epochs 7 != 1", "another --out"),
    ),
    Case(
        "experiments-run-diverges",
        "experiments",
        _experiments_config('{"models": {"gmf": {"train": {"learning_rate": 1e30}}}}'),
        1,
        ("gmf F=8 seed 0: failed: training diverged", "--retry-failed"),
        lambda env: json.loads((env.tmp / "out/runs/gmf/f8/seed0/failure.json").read_text()),
    ),
]

# Chord sheets and annotations (chords import)
SHEETS_HEADER = "song\tcapo\tsyntax\tchords"


def _import(env: Env, *lines: str, name: str = "sheets.tsv", header: str = SHEETS_HEADER):
    table = env.write(name, "\n".join([header, *lines]) + "\n")
    return ["import", str(table), "--out", str(env.tmp / "sheets_out"), "--quiet"]


def _import_gz_truncated(env: Env) -> list[str]:
    rows = [f"s{i}\t0\tsymbol\tG C D Em Am F" for i in range(2000)]
    data = gzip.compress(("\n".join([SHEETS_HEADER, *rows]) + "\n").encode())
    table = env.write("sheets.tsv.gz", data[: len(data) // 2])
    return ["import", str(table), "--out", str(env.tmp / "sheets_out"), "--quiet"]


CASES += [
    Case(
        "import-missing-table",
        "chords",
        lambda env: ["import", str(env.tmp / "nowhere.tsv"), "--out", str(env.tmp / "o")],
        2,
        ("nowhere.tsv", "no such file"),
        check=lambda env: _nothing_created(env.tmp / "o"),
    ),
    Case(
        "import-missing-chords-column",
        "chords",
        lambda env: _import(env, "s1\t0\tsymbol\tG C", header="song\tcapo\tsyntax\tprogression"),
        2,
        ("sheets.tsv:1", "no column 'chords'", "--*-column"),
    ),
    Case(
        "import-named-column-missing",
        "chords",
        lambda env: [*_import(env, "s1\t0\tsymbol\tG C"), "--key-column", "tonality"],
        2,
        ("sheets.tsv:1", "no column 'tonality'"),
    ),
    Case(
        "import-repeated-song",
        "chords",
        lambda env: _import(env, "s1\t0\tsymbol\tG C", "s1\t0\tsymbol\tD A"),
        2,
        ("sheets.tsv:3", "'s1' appears twice", "line 2"),
    ),
    Case(
        "import-empty-song-id",
        "chords",
        lambda env: _import(env, "s1\t0\tsymbol\tG C", "\t0\tsymbol\tD A"),
        2,
        ("sheets.tsv:3", "empty song id"),
    ),
    Case(
        "import-missing-field",
        "chords",
        lambda env: _import(env, "s1\t0\tsymbol\tG C", "s2\t0\tD A"),
        2,
        ("sheets.tsv:3", "expected 4 tab-separated fields, found 3"),
    ),
    Case(
        "import-bad-capo",
        "chords",
        lambda env: _import(env, "s1\ttwo\tsymbol\tG C"),
        2,
        ("sheets.tsv:2", "capo 'two'", "whole number"),
    ),
    Case(
        "import-capo-off-the-neck",
        "chords",
        lambda env: _import(env, "s1\t-3\tsymbol\tG C"),
        2,
        ("sheets.tsv:2", "capo -3", "0 to 24"),
    ),
    Case(
        "import-unknown-syntax",
        "chords",
        lambda env: _import(env, "s1\t0\tabc\tG C"),
        2,
        ("sheets.tsv:2", "syntax 'abc'", "symbol, harte"),
    ),
    Case(
        "import-bad-key",
        "chords",
        lambda env: _import(env, "s1\tG C\tH dorian", header="song\tchords\tkey", name="keys.tsv"),
        2,
        ("keys.tsv:2", "not a key", "'H dorian'"),
    ),
    Case(
        "import-header-only",
        "chords",
        lambda env: _import(env),
        2,
        ("sheets.tsv", "no songs"),
    ),
    Case(
        "import-truncated-gz",
        "chords",
        _import_gz_truncated,
        2,
        ("sheets.tsv.gz", "truncated"),
        check=lambda env: _nothing_created(env.tmp / "sheets_out"),
    ),
    Case(
        "import-not-utf8",
        "chords",
        lambda env: [
            "import",
            str(env.write("b.tsv", b"song\tchords\ns\xff\tG\n")),
            "--out",
            str(env.tmp / "o"),
        ],
        2,
        ("b.tsv:2", "not UTF-8"),
    ),
    Case(
        "import-no-song-has-a-chord",
        "chords",
        lambda env: _import(env, "s1\t0\tsymbol\tx2 | Intro:", "s2\t0\tsymbol\tla la"),
        1,
        ("none of the 2 songs", "readable chord", "unread.tsv"),
    ),
    Case(
        "import-out-is-a-file",
        "chords",
        lambda env: [
            *_import(env, "s1\t0\tsymbol\tG C")[:2],
            *["--out", str(env.write("out.txt", "x")), "--quiet"],
        ],
        2,
        ("--out", "out.txt", "is a file"),
    ),
]

# data: prepare --source ncf's negatives and columns, options a source does not use, filters
# that leave nobody, and stats against an edited manifest
MOVIELENS = Path(__file__).parent / "fixtures" / "movielens"


def _ncf(env: Env, *options: str, line: str | None = None, train: str | None = None) -> list[str]:
    """``prepare --source ncf`` on the small NCF files of ``tests/test_data_ncf.py``, the first
    line of ``P.test.negative`` (or the whole ``P.train.rating``) replaced."""
    from tests.test_data_ncf import write_ncf

    prefix = write_ncf(env.tmp / "ncf")
    if line is not None:
        negative = Path(f"{prefix}.test.negative")
        negative.write_text("\n".join([line, *negative.read_text().splitlines()[1:]]) + "\n")
    if train is not None:
        Path(f"{prefix}.train.rating").write_text(train)
    return ["prepare", "--source", "ncf", "--input", str(prefix), "--quiet", *options] + [
        "--out",
        str(env.tmp / "out"),
    ]


def _edited_manifest(edit: Callable[[dict], object]) -> Callable[[Env], list[str]]:
    def argv(env: Env) -> list[str]:
        path = env.data / "manifest.json"
        manifest = json.loads(path.read_text())
        edit(manifest)
        path.write_text(json.dumps(manifest))
        return ["stats", str(env.data)]

    return argv


CASES += [
    Case(
        "ncf-negative-is-a-training-item",
        "prepare",
        lambda env: _ncf(env, line="(0,4)\t5\t2\t11"),
        2,
        ("tiny.test.negative:1", "negative 2 is one of user 0's training items"),
        check=lambda env: _nothing_created(env.tmp / "out"),
    ),
    Case(
        "ncf-repeated-negative",
        "prepare",
        lambda env: _ncf(env, line="(0,4)\t5\t6\t5"),
        2,
        ("tiny.test.negative:1", "negative 5 appears twice"),
    ),
    Case(
        "ncf-pair-is-not-the-users-test-item",
        "prepare",
        lambda env: _ncf(env, line="(0,5)\t6\t7\t11"),
        2,
        ("tiny.test.negative:1", "the pair names item 5", "test item is 4"),
    ),
    Case(
        "ncf-negative-outside-the-catalogue",
        "prepare",
        lambda env: _ncf(env, line="(0,4)\t5\t6\t4000"),
        2,
        ("tiny.test.negative:1", "negative 4000 is not in the catalogue (items 0..12)"),
    ),
    Case(
        "ncf-line-with-another-number-of-negatives",
        "prepare",
        lambda env: _ncf(env, line="(0,4)\t5\t6"),
        2,
        ("tiny.test.negative:1", "2 negatives where the other lines hold 3"),
    ),
    Case(
        "ncf-eval-negatives-disagree-with-the-files",
        "prepare",
        lambda env: _ncf(env, "--eval-negatives", "99"),
        2,
        ("tiny.test.negative", "holds 3 negatives per test user", "--eval-negatives 99"),
    ),
    Case(
        "ncf-rating-file-with-two-columns",
        "prepare",
        lambda env: _ncf(env, train="0\t1\n"),
        2,
        ("tiny.train.rating:1", "expected 4 columns", "or 3", "found 2"),
    ),
    Case(
        "ncf-since",
        "prepare",
        lambda env: _ncf(env, "--since", "2014-01-01"),
        2,
        ("--since does not apply to --source ncf",),
    ),
    Case(
        "ncf-top-songs",
        "prepare",
        lambda env: _ncf(env, "--top-songs", "100"),
        2,
        ("--top-songs does not apply to --source ncf", "filtered already"),
    ),
    Case(
        "movielens-since",
        "prepare",
        lambda env: _prepare(env, "--since", "2014-01-01", source="movielens", events=MOVIELENS),
        2,
        ("--since does not apply to --source movielens (it has no timestamps)",),
    ),
    Case(
        "lfm1b-mfcc",
        "prepare",
        lambda env: _prepare(env, "--mfcc", source="lfm1b", events=env.tmp),
        2,
        ("--mfcc does not apply to --source lfm1b", "no audio"),
    ),
    Case(
        "lastfm1k-chord-vocabulary",
        "prepare",
        lambda env: _prepare(env, "--chord-vocabulary", "full", source="lastfm1k"),
        2,
        ("--chord-vocabulary does not apply to --source lastfm1k",),
    ),
    Case(
        "demo-input",
        "prepare",
        lambda env: _prepare(env, source="demo"),
        2,
        ("--input does not apply to --source demo",),
    ),
    Case(
        "events-min-user-interactions-leaves-nobody",
        "prepare",
        _prepare_with("--min-user-interactions", "1000"),
        2,
        ("--min-user-interactions 1000 leaves no users", "the most active user has 10"),
    ),
    Case(
        "movielens-min-user-interactions-leaves-nobody",
        "prepare",
        lambda env: _prepare(
            env, "--min-user-interactions", "100", source="movielens", events=MOVIELENS
        ),
        2,
        ("movielens: --min-user-interactions 100 leaves no users",),
    ),
    Case(
        "ncf-min-user-interactions-leaves-nobody",
        "prepare",
        lambda env: _ncf(env, "--min-user-interactions", "100"),
        2,
        ("tiny: --min-user-interactions 100 leaves no users",),
    ),
    Case(
        "events-since-leaves-nobody",
        "prepare",
        _prepare_with("--since", "2030-01-01"),
        2,
        ("--since 2030-01-01 leaves no events", "What each step left"),
    ),
    Case(
        "events-drop-songs-without-chords-leaves-nobody",
        "prepare",
        _prepare_with("--songs-without-chords", "drop"),
        2,
        ("--songs-without-chords drop leaves no users", "no song has chords"),
    ),
    Case(
        "stats-manifest-counts-users-edited",
        "prepare",
        _edited_manifest(lambda m: m["counts"].update(users=m["counts"]["users"] - 2)),
        2,
        ("manifest.json: does not match the data files", "counts.users says", "the files hold"),
    ),
    Case(
        "stats-manifest-eval-negatives-edited",
        "prepare",
        _edited_manifest(lambda m: m["settings"].update(eval_negatives=5)),
        2,
        ("settings.eval_negatives says 5, the files hold 99",),
    ),
]


def _fitted_run_with_damaged_state(env: Env) -> list[str]:
    """A killed item-kNN run (fitted, no metrics yet) whose saved state is not an ``.npz``."""
    run_dir = env.tmp / "run"
    (run_dir / "best").mkdir(parents=True)
    config = {"model_name": "itemknn", "data_dir": str(env.data)}
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "best.json").write_text(json.dumps({"epoch": 0, "val_hr": 0.1, "val_ndcg": 0.1}))
    (run_dir / "best" / "state.npz").write_bytes(b"not a zip archive")
    return ["--run-dir", str(run_dir), "--resume", "--no-export", "--quiet"]


# baselines: popularity and item-kNN (--model popularity, --model itemknn)
CASES += [
    Case(
        "itemknn-neighbours-zero",
        "train",
        _train_on_data("--model", "itemknn", "--itemknn-neighbours", "0"),
        2,
        ("neighbours must be a positive integer", "got 0"),
    ),
    Case(
        "itemknn-neighbours-in-config-not-a-number",
        "train",
        lambda env: _train(
            env,
            "--data",
            str(env.data),
            "--config",
            str(env.write("run.json", '{"model": {"itemknn": {"neighbours": "many"}}}')),
        ),
        2,
        ("run.json", "itemknn: neighbours must be a positive integer", "'many'"),
    ),
    Case(
        "fitted-state-damaged",
        "train",
        _fitted_run_with_damaged_state,
        2,
        ("state.npz", "not a readable ItemKnnRecommender state", "remove", "best.json"),
    ),
    Case(
        "test-every-epoch-for-popularity",
        "train",
        _train_on_data("--model", "popularity", "--test-every-epoch"),
        2,
        ("test_every_epoch", "popularity has no epochs"),
    ),
]

# train: config files, seeds, run and export folders


def _train_with_config(text: str) -> Callable[[Env], list[str]]:
    return lambda env: _train(
        env, "--data", str(env.data), "--config", str(env.write("run.json", text))
    )


def _no_run_dir(env: Env) -> None:
    _nothing_created(env.tmp / "run")


def _claim_lock_is_a_folder(env: Env) -> list[str]:
    (env.tmp / "run" / "claim.lock").mkdir(parents=True)
    return _train(env, "--data", str(env.data))


CASES += [
    Case(
        "config-a-bare-number",
        "train",
        _train_with_config("3"),
        2,
        ("run.json", "RunConfig expects a JSON object, got a number"),
        check=_no_run_dir,
    ),
    Case(
        "config-null",
        "train",
        _train_with_config("null"),
        2,
        ("run.json", "expects a JSON object, got null"),
        check=_no_run_dir,
    ),
    Case(
        "config-a-list",
        "train",
        _train_with_config('[{"model_name": "gmf"}]'),
        2,
        ("run.json", "expects a JSON object, got a list"),
        check=_no_run_dir,
    ),
    Case(
        "config-train-section-a-number",
        "train",
        _train_with_config('{"train": 5}'),
        2,
        ("run.json: train: TrainConfig expects a JSON object, got a number",),
        check=_no_run_dir,
    ),
    Case(
        "config-epochs-text",
        "train",
        _train_with_config('{"train": {"epochs": "3"}}'),
        2,
        ("run.json: train: epochs must be a positive integer, got '3'",),
        check=_no_run_dir,
    ),
    Case(
        "config-epochs-an-object",
        "train",
        _train_with_config('{"train": {"epochs": {"max": 3}}}'),
        2,
        ("run.json: train: epochs must be a positive integer",),
        check=_no_run_dir,
    ),
    Case(
        "config-batch-size-a-bool",
        "train",
        _train_with_config('{"train": {"batch_size": true}}'),
        2,
        ("run.json: train: batch_size must be a positive integer, got True",),
        check=_no_run_dir,
    ),
    Case(
        "config-learning-rate-a-list",
        "train",
        _train_with_config('{"train": {"learning_rate": [0.001]}}'),
        2,
        ("run.json: train: learning_rate must be a finite positive number", "[0.001]"),
        check=_no_run_dir,
    ),
    Case(
        "config-unknown-top-level-key",
        "train",
        _train_with_config('{"epochs": 3}'),
        2,
        ("run.json", "unknown RunConfig field(s): epochs"),
        check=_no_run_dir,
    ),
    Case(
        "config-model-name-unknown",
        "train",
        _train_with_config('{"model_name": "bert"}'),
        2,
        ("run.json: model_name: unknown model 'bert'", "choose one of coat"),
        check=_no_run_dir,
    ),
    Case(
        "config-model-name-a-number",
        "train",
        _train_with_config('{"model_name": 3}'),
        2,
        ("run.json: model_name must be a model name, got 3",),
        check=_no_run_dir,
    ),
    Case(
        "config-data-dir-a-number",
        "train",
        _train_with_config('{"data_dir": 5}'),
        2,
        ("run.json: data_dir must be a folder or null, got 5",),
        check=_no_run_dir,
    ),
    Case(
        "config-seed-out-of-range",
        "train",
        _train_with_config('{"train": {"seed": 4294967296}}'),
        2,
        ("run.json: train: seed must be in 0..4294967295",),
        check=_no_run_dir,
    ),
    Case(
        "train-seed-negative",
        "train",
        _train_on_data("--seed", "-1"),
        2,
        ("seed must be in 0..4294967295", "got -1"),
        check=_no_run_dir,
    ),
    Case(
        "train-seed-past-2-to-the-32",
        "train",
        _train_on_data("--seed", str(2**32)),
        2,
        ("seed must be in 0..4294967295", "got 4294967296"),
        check=_no_run_dir,
    ),
]

CASES += [
    Case(
        "run-dir-parent-is-a-file",
        "train",
        lambda env: [
            *_train(env, "--data", str(env.data))[2:],
            "--run-dir",
            str(env.write("blocker", "") / "run"),
        ],
        2,
        ("--run-dir", "blocker is a file, not a folder"),
        check=lambda env: _nothing_created(env.tmp / "blocker" / "run"),
    ),
    Case(
        "claim-lock-is-a-folder",
        "train",
        _claim_lock_is_a_folder,
        2,
        ("run/claim.lock", "is not a file", "remove it"),
        check=lambda env: _nothing_created(env.tmp / "run" / "config.json"),
    ),
    Case(
        "export-dir-is-a-file",
        "train",
        lambda env: [
            *_train(env, "--data", str(env.data))[:2],
            "--quiet",
            "--data",
            str(env.data),
            "--export-dir",
            str(env.write("exports", "")),
        ],
        2,
        ("--export-dir", "exports: is a file, not a folder"),
        check=_no_run_dir,
    ),
    Case(
        "export-dir-parent-is-a-file",
        "train",
        lambda env: [
            *_train(env, "--data", str(env.data))[:2],
            "--quiet",
            "--data",
            str(env.data),
            "--export-dir",
            str(env.write("exports", "") / "saved"),
        ],
        2,
        ("--export-dir", "exports is a file, not a folder"),
        check=_no_run_dir,
    ),
]


# tuning.search
def _tune(env: Env, folder: Path | None = None, *options: str) -> list[str]:
    folder = folder or env.tmp / "search"
    grid = ["--batch-size", "64", "--learning-rate", "0.001", "--embedding-size", "8"]
    argv = ["--data", str(env.data), "--model", "gmf", *grid, "--epochs", "1", "--quiet"]
    return [*argv, "--dir", str(folder), *options]


def _tune_in(make: Callable[[Env], Path]) -> Callable[[Env], list[str]]:
    return lambda env: _tune(env, make(env))


def _claim_lock_folder(env: Env) -> Path:
    (env.tmp / "search" / "claim.lock").mkdir(parents=True)
    return env.tmp / "search"


def _experiments_out(env: Env) -> Path:
    (env.tmp / "fig2" / "runs" / "gmf" / "f8" / "seed0").mkdir(parents=True)
    return env.tmp / "fig2"


CASES += [
    Case(
        "tune-seed-negative",
        "tune",
        lambda env: _tune(env, None, "--seed", "-1"),
        2,
        ("--seed -1", "between 0 and 4294967295"),
        lambda env: _nothing_created(env.tmp / "search"),
    ),
    Case(
        "tune-seed-above-2-32",
        "tune",
        lambda env: _tune(env, None, "--seed", str(2**32)),
        2,
        ("--seed 4294967296", "between 0 and 4294967295"),
        lambda env: _nothing_created(env.tmp / "search"),
    ),
    Case(
        "tune-dir-is-a-file",
        "tune",
        _tune_in(lambda env: env.write("search", "not a folder")),
        2,
        ("--dir", "search: is a file"),
    ),
    Case(
        "tune-dir-below-a-file",
        "tune",
        _tune_in(lambda env: env.write("blocker", "not a folder") / "search"),
        2,
        ("--dir", "blocker/search: cannot write there", "Not a directory"),
    ),
    Case(
        "tune-claim-lock-is-a-folder",
        "tune",
        _tune_in(_claim_lock_folder),
        2,
        ("--dir", "cannot write there", "claim.lock: Is a directory"),
        lambda env: _nothing_created(env.tmp / "search" / "search.json"),
    ),
    Case(
        "tune-dir-is-an-experiments-folder",
        "tune",
        _tune_in(_experiments_out),
        2,
        ("--dir", "fig2: is an experiments folder"),
        lambda env: _nothing_created(env.tmp / "fig2" / "search.json"),
    ),
]


# playlists: prepare --source playlists, events ordered by a column (--order-column) with a chord
# table (--chords), --chord-key
def _playlists(env: Env, *options: str, songs: str | None = None) -> list[str]:
    """``prepare --source playlists`` on the small fixture of ``tests/test_data_playlists.py``,
    its ``songs.tsv.gz`` replaced by ``songs`` where given."""
    from tests.test_data_playlists import write_playlists

    folder = write_playlists(env.tmp / "playlists")
    if songs is not None:
        (folder / "songs.tsv.gz").write_bytes(gzip.compress(songs.encode()))
    return ["prepare", "--source", "playlists", "--input", str(folder), "--quiet", *options] + [
        "--out",
        str(env.tmp / "out"),
    ]


def _ordered_events(env: Env, *options: str, table: Callable[[Env], Path] | None = None):
    """``prepare --source events --order-column position`` on events with a position column,
    with ``--chords`` the folder ``table`` makes."""
    lines = [f"u{i % 4}\ts{i % 13}\t{i}" for i in range(40)]
    events = env.events("events.tsv", lines, header="user_id\ttrack_id\tposition")
    argv = _prepare(env, "--order-column", "position", *options, events=events)
    return argv + (["--chords", str(table(env))] if table else [])


def _chord_table(*options: str, edit: Callable[[Path], object] | None = None):
    """A chord table folder of ``chords import`` (with ``options``), then ``edit``-ed."""

    def make(env: Env) -> Path:
        from coat_tf.chords.cli import main as chords_main

        rows = [f"s{i}\t0\tsymbol\tG C D Em" for i in range(13)]
        table = env.write("sheets.tsv", "\n".join([SHEETS_HEADER, *rows]) + "\n")
        out = env.tmp / "chords"
        assert chords_main(["import", str(table), "--out", str(out), "--quiet", *options]) == 0
        if edit is not None:
            edit(out)
        return out

    return make


def _bad_chord_line(folder: Path) -> None:
    path = folder / "chords.tsv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].rsplit("\t", 1)[0] + "\tC G Am"
    path.write_text("\n".join(lines) + "\n")


def _other_song_ids(folder: Path) -> None:
    path = folder / "chords.tsv"
    path.write_text(path.read_text().replace("\ns", "\nsong-"))


CASES += [
    Case(
        "playlists-since",
        "prepare",
        lambda env: _playlists(env, "--since", "2014-01-01"),
        2,
        ("--since does not apply to --source playlists", "no timestamps"),
        lambda env: _nothing_created(env.tmp / "out"),
    ),
    Case(
        "playlists-mfcc",
        "prepare",
        lambda env: _playlists(env, "--mfcc"),
        2,
        ("--mfcc does not apply to --source playlists", "no audio"),
    ),
    Case(
        "playlists-missing-folder",
        "prepare",
        lambda env: _prepare(env, source="playlists", events=env.tmp / "nowhere"),
        2,
        ("nowhere", "no such file", "playlists"),
    ),
    Case(
        "playlists-songs-without-chords-column",
        "prepare",
        lambda env: _playlists(env, songs="song\tartist\ns05\tx\n"),
        2,
        ("songs.tsv.gz:1", "no column 'chords'"),
        lambda env: _nothing_created(env.tmp / "out"),
    ),
    Case(
        "playlists-songs-bad-capo",
        "prepare",
        lambda env: _playlists(env, songs="song\tcapo\tchords\ns05\t30\tC G\n"),
        2,
        ("songs.tsv.gz:2", "capo 30 is not a fret"),
    ),
    Case(
        "order-column-with-since",
        "prepare",
        lambda env: _ordered_events(env, "--since", "2014-01-01"),
        2,
        ("--since does not apply with --order-column", "holds no times"),
    ),
    Case(
        "order-column-missing",
        "prepare",
        lambda env: _prepare(env, "--order-column", "rank"),
        2,
        ("events.tsv:1", "lacks column(s) ['rank']"),
    ),
    Case(
        "order-column-not-integer",
        "prepare",
        lambda env: _prepare(
            env,
            "--order-column",
            "position",
            events=env.events("events.tsv", ["u1\ts1\t3", "u1\ts2\tfirst"], "user\tsong\tposition"),
        ),
        2,
        ("events.tsv:3", "column 'position'", "not an integer", "'first'"),
    ),
    Case(
        "chords-missing-folder",
        "prepare",
        lambda env: _ordered_events(env, table=lambda env: env.tmp / "nowhere"),
        2,
        ("nowhere", "no such folder", "chords import or chords extract"),
    ),
    Case(
        "chords-other-chord-key",
        "prepare",
        lambda env: _ordered_events(env, table=_chord_table("--chord-key", "relative")),
        2,
        ("summary.json", "chord_key 'relative'", "pass --chord-key relative"),
        lambda env: _nothing_created(env.tmp / "out"),
    ),
    Case(
        "chords-other-vocabulary",
        "prepare",
        lambda env: _ordered_events(env, table=_chord_table("--vocabulary", "full")),
        2,
        ("summary.json", "vocabulary 'full'", "pass --chord-vocabulary full"),
    ),
    Case(
        "chords-other-length",
        "prepare",
        lambda env: _ordered_events(env, table=_chord_table("--length", "50")),
        2,
        ("summary.json", "holds 50 chords a song", "--length 100"),
    ),
    Case(
        "chords-bad-line",
        "prepare",
        lambda env: _ordered_events(env, table=_chord_table(edit=_bad_chord_line)),
        2,
        ("chords.tsv:3", "not whole numbers"),
    ),
    Case(
        "chords-no-song-of-the-events",
        "prepare",
        lambda env: _ordered_events(env, table=_chord_table(edit=_other_song_ids)),
        2,
        ("chords", "none of its 13 songs with chords is a song of the events"),
    ),
    Case(
        "chords-for-lfm1b",
        "prepare",
        lambda env: _prepare(env, "--chords", str(env.tmp), source="lfm1b"),
        2,
        ("--chords does not apply to --source lfm1b",),
    ),
    Case(
        "chord-key-unknown",
        "prepare",
        _prepare_with("--chord-key", "tonic"),
        2,
        ("--chord-key", "invalid choice: 'tonic'"),
    ),
    # new songs: prepare --new-songs FRACTION [--new-songs-by time|random]
    Case(
        "new-songs-by-time-on-playlists",
        "prepare",
        lambda env: _playlists(env, "--new-songs", "0.2"),
        2,
        ("--new-songs-by time does not apply to --source playlists", "--new-songs-by random"),
    ),
    Case(
        "new-songs-by-time-with-an-order-column",
        "prepare",
        _prepare_with("--order-column", "position", "--new-songs", "0.2"),
        2,
        ("--source events (its order column 'position' holds no times)", "--new-songs-by random"),
    ),
    Case(
        "new-songs-by-time-on-movielens",
        "prepare",
        lambda env: _prepare(env, "--new-songs", "0.2", source="movielens", events=MOVIELENS),
        2,
        ("--new-songs-by time does not apply to --source movielens", "--new-songs-by random"),
    ),
    Case(
        "new-songs-fraction-one",
        "prepare",
        _prepare_with("--new-songs", "1"),
        2,
        ("--new-songs", "expected a fraction strictly between 0 and 1", "'1'"),
    ),
    Case(
        "new-songs-fraction-zero",
        "prepare",
        _prepare_with("--new-songs", "0"),
        2,
        ("--new-songs", "expected a fraction strictly between 0 and 1", "'0'"),
    ),
    Case(
        "new-songs-fraction-percent",
        "prepare",
        _prepare_with("--new-songs", "10%"),
        2,
        ("--new-songs", "expected a fraction strictly between 0 and 1", "'10%'"),
    ),
    Case(
        "new-songs-fewer-than-four",
        "prepare",
        _prepare_with("--new-songs", "0.2"),
        2,
        ("events.tsv", "--new-songs 0.2 gives 3 new songs of the 13 songs", "at least 4"),
    ),
    Case(
        "new-songs-a-user-has-a-whole-shelf",
        "prepare",
        _prepare_with("--eval-negatives", "1", "--new-songs", "0.3"),
        2,
        ("events.tsv", "a user has every one of the 2 songs of the new songs' valid shelf"),
    ),
    Case(
        "new-songs-by-without-new-songs",
        "prepare",
        _prepare_with("--new-songs-by", "random"),
        2,
        ("--new-songs-by applies only with --new-songs",),
    ),
    Case(
        "new-songs-for-ncf",
        "prepare",
        lambda env: _ncf(env, "--new-songs", "0.2"),
        2,
        ("--new-songs does not apply to --source ncf", "test negatives"),
    ),
]


# recommend --new-songs
def _gmf_export(env: Env) -> Path:
    """A tiny GMF export: a model that reads no song content."""
    from coat_tf.export import export_model
    from tests.test_export import tiny_data, trained

    data = tiny_data(env.tmp)
    recommender, run = trained(data, "gmf")
    return export_model(recommender, data, run, out_root=env.tmp / "saved", name="gmf")


CASES += [
    Case(
        "new-songs-data-without-new-songs",
        "recommend",
        lambda env: _recommend(env, env.export, "--new-songs"),
        2,
        ("prepared", "the data set has no new songs", "--new-songs FRACTION"),
    ),
    Case(
        "new-songs-model-without-content",
        "recommend",
        lambda env: _recommend(env, _gmf_export(env), "--new-songs"),
        2,
        ("gmf reads no song content", "it cannot rank new songs"),
    ),
    Case(
        "new-songs-other-data-set",
        "recommend",
        lambda env: _recommend(env, env.export, "--new-songs", "--data", str(env.data)),
        2,
        ("content hash", "differs from", "export.json"),
    ),
    Case(
        "new-songs-data-set-missing",
        "recommend",
        lambda env: _recommend(env, env.export, "--new-songs", "--data", str(env.tmp / "absent")),
        2,
        ("absent/manifest.json", "not a prepared data set"),
    ),
    Case(
        "data-without-new-songs-option",
        "recommend",
        lambda env: _recommend(env, env.export, "--data", str(env.data)),
        2,
        ("--data applies to --new-songs only",),
    ),
]

# baselines that rank new songs: chord-histogram and random (--model chord-histogram, random)


def _train_without_chords(env: Env) -> list[str]:
    """chord-histogram on the tiny data set with no chords (all ``N``, ``has_chords`` 0)."""
    import numpy as np

    from coat_tf.data.manifest import update_checksums

    songs = env.data / "songs.tsv"
    header, *rows = [line.split("\t") for line in songs.read_text().splitlines()]
    for row in rows:
        row[header.index("has_chords")] = "0"
    songs.write_text("\n".join("\t".join(row) for row in [header, *rows]) + "\n")
    np.save(env.data / "chords.npy", np.zeros_like(np.load(env.data / "chords.npy")))
    update_checksums(env.data)
    return _train(env, "--data", str(env.data), "--model", "chord-histogram")


CASES += [
    Case(
        "chord-histogram-without-chords",
        "train",
        _train_without_chords,
        2,
        ("'chord-histogram' reads chord sequences", "has_chords is 0"),
    ),
]

# song dropout (train --song-dropout, ModelConfig.song_dropout)

CASES += [
    Case(
        "song-dropout-above-one",
        "train",
        _train_on_data("--song-dropout", "1.5"),
        2,
        ("song_dropout", "[0, 1]", "got 1.5"),
        check=lambda env: _nothing_created(env.tmp / "run" / "config.json"),
    ),
    Case(
        "song-dropout-negative",
        "train",
        _train_on_data("--song-dropout", "-0.1"),
        2,
        ("song_dropout", "[0, 1]", "got -0.1"),
    ),
    Case(
        "song-dropout-for-gmf",
        "train",
        _train_on_data("--model", "gmf", "--song-dropout", "0.5"),
        2,
        ("song_dropout (--song-dropout) is 0.5", "'gmf' has no song dropout", "coat"),
        check=lambda env: _nothing_created(env.tmp / "run" / "config.json"),
    ),
    Case(
        "song-dropout-in-a-config-for-neumf",
        "train",
        lambda env: _train(
            env,
            "--data",
            str(env.data),
            "--config",
            str(env.write("run.json", '{"model_name": "neumf", "model": {"song_dropout": 0.2}}')),
        ),
        2,
        ("run.json", "'neumf' has no song dropout"),
    ),
    Case(
        "song-dropout-zero-for-coat-song-dropout",
        "train",
        _train_on_data("--model", "coat-song-dropout", "--song-dropout", "0"),
        2,
        ("--song-dropout 0", "coat-song-dropout", "--model coat"),
    ),
    # new songs: the experiment
    Case(
        "experiments-new-songs-without-new-songs",
        "experiments",
        lambda env: [
            "new-songs",
            *_experiments(env)[1:],
        ],
        2,
        ("has no new songs", "--new-songs FRACTION"),
        _no_experiment_out,
    ),
]
