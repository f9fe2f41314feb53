"""SIGKILL in the middle of a command, then the same command again: it finishes with the result
an uninterrupted run gives, and no temporary file or folder is left behind.

(Training has its own kill test in ``tests/test_train.py``.) Also: two exports into one root at
once keep both models.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from coat_tf.chords.cli import main as chords_main
from coat_tf.data import PrepareConfig, prepare
from tests.test_chords_extract import PROGRESSION, bad_files, chord_tones, write_audio
from tests.tiny_data import write_events

TEMPORARY = re.compile(r"^\..*\.(tmp|partial|old)$")

pytestmark = pytest.mark.slow


def temporaries(folder: Path) -> list[Path]:
    """Temporary files and folders (``fileio``'s names) anywhere below ``folder``."""
    return [p for p in folder.rglob(".*") if TEMPORARY.match(p.name)]


def start(argv: list[str]) -> subprocess.Popen:
    """``python argv`` in its own process group (so that its workers can be killed too)."""
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    return subprocess.Popen(
        [sys.executable, *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], limit: float = 240) -> None:
    """SIGKILL ``process`` and its workers as soon as ``ready()`` holds."""
    deadline = time.time() + limit
    while not ready():
        assert process.poll() is None, (
            f"finished before it could be killed: {process.stderr.read()}"
        )
        assert time.time() < deadline, "never reached the point to kill it at"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    stderr = process.stderr.read()
    assert "Traceback" not in stderr
    for noise in ("cuInit", "cudart_stub", "absl::InitializeLog"):
        assert noise not in stderr, stderr  # workers start quietly too


def test_chords_extract_killed_then_resumed(tmp_path: Path) -> None:
    music = tmp_path / "music"
    for i in range(12):  # 12 distinct 30 s recordings, and one that fails
        write_audio(music / f"song{i:02d}.wav", chord_tones(PROGRESSION, 7.5) * (1 - 0.02 * i))
    bad_files(music)
    out = tmp_path / "out"
    records = out / "cache" / "chords"
    argv = ["-m", "coat_tf.chords", "extract", str(music), "--out", str(out), "--workers", "2"]
    first = start([*argv, "--quiet"])
    kill_when(first, lambda: any(records.rglob("*.json")))
    assert not (out / "summary.json").exists()

    assert chords_main(["extract", str(music), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cached"] >= 1 and summary["cached"] + summary["extracted"] == 12
    reference = tmp_path / "reference"
    assert (
        chords_main(["extract", str(music), "--out", str(reference), "--workers", "1", "--quiet"])
        == 0
    )
    for name in ("chords.tsv", "segments.jsonl", "failures.tsv", "vocabulary.json"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert temporaries(tmp_path) == []


def test_prepare_killed_then_run_again(tmp_path: Path) -> None:
    events = write_events(tmp_path / "events.tsv")
    out = tmp_path / "data" / "prepared"
    argv = ["-m", "coat_tf.data", "prepare", "--source", "events", "--input", str(events)]
    argv += ["--out", str(out), "--since", "none", "--min-user-interactions", "5", "--quiet"]
    first = start(argv)
    kill_when(first, lambda: bool(list(out.parent.glob(".prepared.*.partial"))))
    assert not out.exists() and temporaries(out.parent)  # the killed run's folder is left

    config = PrepareConfig.for_source("events", since=None, min_user_interactions=5)
    again = prepare("events", events, out, config, progress=False)
    reference = prepare("events", events, tmp_path / "reference", config, progress=False)
    assert again.manifest["files"] == reference.manifest["files"]
    assert again.manifest["content_hash"] == reference.manifest["content_hash"]
    assert temporaries(tmp_path) == []


EXPORT_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    import coat_tf  # legacy Keras before TensorFlow
    import tensorflow as tf

    from coat_tf.export import export_model
    from tests.test_export import tiny_data, trained

    folder, root, me, other = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    folder.mkdir()
    data = tiny_data(folder)
    recommender, run = trained(data, "gmf")
    model = recommender.model
    model.set_weights([w + 0.1 * int(me) for w in model.get_weights()])  # told apart below
    score = float(recommender.score_pairs(tf.constant([0]), tf.constant([0])).numpy()[0])
    (root.parent / f"ready-{me}").touch()
    deadline = time.time() + 240
    while not (root.parent / f"ready-{other}").exists():  # both export at once
        assert time.time() < deadline, "the other process never got ready"
        time.sleep(0.01)
    path = export_model(recommender, data, run, out_root=root)
    print(json.dumps({"path": str(path), "score": score}))
    """
)


def test_two_exports_into_one_root_at_once_keep_both(tmp_path: Path) -> None:
    """Two processes export to one root at the same moment: two versions, each complete,
    loadable, holding its own writer's model, and each writer reports the one it wrote."""
    import tensorflow as tf

    from coat_tf.recommend import ExportedModel

    script = tmp_path / "export.py"
    script.write_text(EXPORT_SCRIPT)
    root = tmp_path / "saved"
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / f"w{me}"), str(root), me, other],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me, other in (("1", "2"), ("2", "1"))
    ]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    paths = sorted(Path(report["path"]) for report in reports)
    assert paths == [root / "gmf" / "1", root / "gmf" / "2"]
    for report in reports:
        path = Path(report["path"])
        info = json.loads((path / "assets.extra" / "export.json").read_text())
        assert info["version"] == int(path.name)
        model = ExportedModel(path)  # checks every file against checksums.json
        assert model.recommend(model.user_ids[0], k=3)
        score = model.module.signatures["serving_default"](
            user_id=tf.constant([0]), song_id=tf.constant([0])
        )["score"]
        assert abs(float(score.numpy()[0]) - report["score"]) < 1e-5
    assert temporaries(tmp_path) == []
