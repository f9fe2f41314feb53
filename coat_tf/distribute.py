"""Training beyond one device: the distribution strategy of a run, and which worker writes.

- One machine: ``MirroredStrategy`` over several GPUs (or, with ``--devices N``, over N logical
  devices), else the default strategy.
- Several machines (or several processes): when the ``TF_CONFIG`` environment variable names a
  cluster of more than one worker, ``MultiWorkerMirroredStrategy``. Every worker runs the same
  command; TensorFlow keeps their weights in sync with collective all-reduces. Example of the
  variable for worker 0 of two::

      TF_CONFIG='{"cluster": {"worker": ["host-a:12345", "host-b:12345"]},
                  "task": {"type": "worker", "index": 0}}'

  The **chief** (the task of type ``chief``, else worker 0) alone writes the run folder's
  ``config.json``, best weights, TensorBoard logs, ``metrics.json`` and the export; the others
  train in step with it and write into a private temporary folder that they remove. Every
  worker must see the same prepared data set (a shared disk, or a copy at the same path).

``MultiWorkerMirroredStrategy`` must be created before TensorFlow initialises its devices, so
:func:`make_strategy` reads ``TF_CONFIG`` before anything else touches TensorFlow.
"""

from __future__ import annotations

import json
import os

TF_CONFIG = "TF_CONFIG"


def cluster_spec() -> dict:
    """``TF_CONFIG`` parsed (``{}`` when unset); ``ValueError`` naming it if it is not JSON."""
    text = os.environ.get(TF_CONFIG, "").strip()
    if not text:
        return {}
    try:
        spec = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{TF_CONFIG} is not valid JSON ({error})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("cluster", {}), dict):
        raise ValueError(f"{TF_CONFIG} must be a JSON object with a 'cluster' object")
    return spec


def cluster_size(spec: dict | None = None) -> int:
    """The number of workers (chief included) that ``TF_CONFIG`` names; 1 without it."""
    spec = cluster_spec() if spec is None else spec
    cluster = spec.get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", [])) or 1


def make_strategy(devices: int = 0):  # noqa: ANN201 - a tf.distribute.Strategy
    """The strategy of a run (see the module docstring).

    Args:
        devices: replicas for ``MirroredStrategy`` on one machine (0: every GPU if there are
            several, else the default strategy). Not allowed with a multi-worker ``TF_CONFIG``.

    Raises:
        ValueError: a bad ``TF_CONFIG``, ``--devices`` together with a cluster, or more devices
            than are visible.
    """
    workers = cluster_size()
    if workers > 1:
        if devices:
            raise ValueError(
                f"--devices {devices} and a {workers}-worker {TF_CONFIG} cannot be combined: "
                "each worker of a cluster uses its own devices"
            )
        import tensorflow as tf

        return tf.distribute.MultiWorkerMirroredStrategy()
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if devices == 0:
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    pool = gpus or tf.config.list_logical_devices("CPU")
    if len(pool) < devices:
        raise ValueError(f"--devices {devices}: only {len(pool)} devices are visible")
    return tf.distribute.MirroredStrategy([d.name for d in pool[:devices]])


def is_multi_worker(strategy) -> bool:  # noqa: ANN001 - a tf.distribute.Strategy
    """Whether ``strategy`` spans several workers."""
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(spec: dict | None = None) -> bool:
    """Whether this process writes the run's outputs: the ``chief`` task, else worker 0, of
    the ``TF_CONFIG`` cluster (always true outside a cluster)."""
    spec = cluster_spec() if spec is None else spec
    if cluster_size(spec) <= 1:
        return True
    task = spec.get("task", {})
    task_type, index = task.get("type"), int(task.get("index", 0))
    if task_type == "chief":
        return True
    return task_type == "worker" and index == 0 and not spec["cluster"].get("chief")


def worker_name(spec: dict | None = None) -> str:
    """``"<task type>-<index>"`` of this process (``"local"`` outside a cluster)."""
    spec = cluster_spec() if spec is None else spec
    if cluster_size(spec) <= 1:
        return "local"
    task = spec.get("task", {})
    return f"{task.get('type')}-{task.get('index', 0)}"
