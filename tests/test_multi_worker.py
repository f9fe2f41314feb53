"""Training under MultiWorkerMirroredStrategy: two worker processes on this machine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_data import prepare_tiny

REPO = Path(__file__).resolve().parents[1]

# Runs the main job and, for the test, keeps the weights each worker ended its training with.
WORKER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import coat_tf
    import tensorflow as tf

    fit = tf.keras.Model.fit

    def fit_and_keep_weights(self, *args, **kwargs):
        history = fit(self, *args, **kwargs)
        np.savez(os.environ["WEIGHTS_OUT"], *[v.numpy() for v in self.weights])
        return history

    tf.keras.Model.fit = fit_and_keep_weights
    from coat_tf.train import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_train_in_step_and_only_the_chief_writes(tmp_path: Path) -> None:
    data = prepare_tiny(tmp_path)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    run_dir, export_dir = tmp_path / "run", tmp_path / "saved"
    args = [
        "--data", str(data), "--model", "gmf", "--epochs", "2", "--embedding-size", "8",
        "--batch-size", "256", "--run-dir", str(run_dir), "--export-dir", str(export_dir),
        "--no-full-catalogue", "--quiet",
    ]  # fmt: skip
    workers = []
    for index in range(2):
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
            "WEIGHTS_OUT": str(tmp_path / f"weights-{index}.npz"),
        }
        workers.append(
            subprocess.Popen(
                [sys.executable, str(script), *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
    assert "worker-1: trained in step with the chief" in outputs[1][1]

    with np.load(tmp_path / "weights-0.npz") as chief, np.load(tmp_path / "weights-1.npz") as other:
        assert len(chief.files) == len(other.files) > 0
        for name in chief.files:
            np.testing.assert_array_equal(chief[name], other[name])
    # the chief alone wrote the run folder and the export; nothing private is left behind
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["replicas"] == 2
    assert (run_dir / "best" / "weights.index").is_file() and (run_dir / "config.json").is_file()
    assert [p.name for p in (export_dir / "gmf").iterdir()] == ["1"]
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")]
    assert "test (99 negatives)" in outputs[0][0] and not outputs[1][0].strip()
