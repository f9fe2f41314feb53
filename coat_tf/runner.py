"""One training run: fit with validation each epoch, keep the best weights, test, export."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from coat_tf import evaluation
from coat_tf.callbacks import (
    BestWeights,
    StopOnNonFiniteLoss,
    ValidationRanking,
    check_finite_weights,
)
from coat_tf.config import RunConfig
from coat_tf.data import PreparedDataset, make_train_dataset
from coat_tf.models import build_model
from coat_tf.models.coat import ATTENTION_LAYER
from coat_tf.scoring import make_catalogue_scorer


def _attention_callback(model: tf.keras.Model, data: PreparedDataset, log_dir: Path, seed: int):
    """TensorBoard attention summaries for models that have a chord attention layer."""
    if ATTENTION_LAYER not in {layer.name for layer in model.layers}:
        return None
    from coat_tf.inspection import AttentionSummary, choose_probes, song_display_names

    probes = choose_probes(data, seed=seed)
    return AttentionSummary(
        str(log_dir),
        probes,
        list(data.vocabulary.labels),
        user_names=data.user_ids,
        song_names=song_display_names(data),
    )


def exclusions_at_test(data: PreparedDataset) -> list[np.ndarray]:
    """Per test user: their training songs and their validation song."""
    valid_song = dict(zip(data.valid.users.tolist(), data.valid.positives.tolist(), strict=True))
    return evaluation.training_exclusions(data.train_items_by_user(), data.test.users, valid_song)


def train_and_evaluate(
    run: RunConfig,
    data: PreparedDataset,
    run_dir: Path,
    strategy: tf.distribute.Strategy | None = None,
    full_catalogue: bool = True,
    export_dir: Path | None = None,
    verbose: bool = True,
    inspect: bool = True,
) -> tuple[dict, tf.keras.Model]:
    """Train ``run.model_name`` on ``data``.

    Returns the figures written to ``metrics.json`` and the model with its best weights.

    Adam on binary cross-entropy over the positives and ``negatives`` fresh sampled negatives
    per positive each epoch. After every epoch the sampled validation HR/NDCG are computed;
    the weights with the best validation NDCG are kept, training stops after ``patience``
    epochs without improvement, and the test figures are those of the best weights. A run
    killed mid-way continues from its last finished epoch when started again on the same
    ``run_dir`` (``BackupAndRestore``). ``inspect`` adds the TensorBoard attention summaries.
    """
    train = run.train
    tf.keras.utils.set_random_seed(train.seed)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = build_model(run.model_name, run.model)
        model.compile(
            optimizer=tf.keras.optimizers.Adam(train.learning_rate),
            loss=tf.keras.losses.BinaryCrossentropy(),
        )
    dataset = make_train_dataset(
        data, batch_size=train.batch_size, negatives=train.negatives, seed=train.seed
    )
    names = set(model.input_names)
    dataset = dataset.map(lambda x, y: ({k: v for k, v in x.items() if k in names}, y))

    tensorboard_dir = run_dir / "tensorboard"
    best = BestWeights(run_dir)
    callbacks = [
        StopOnNonFiniteLoss(run_dir),  # first: a diverged run stops before the others look
        ValidationRanking(data.valid.users, data.valid.items, data.chords, train.top_k),
        best,
        tf.keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        tf.keras.callbacks.EarlyStopping(
            monitor="val_ndcg", mode="max", patience=train.early_stopping_patience
        ),
        tf.keras.callbacks.TensorBoard(str(tensorboard_dir), histogram_freq=0),
    ]
    attention = _attention_callback(model, data, tensorboard_dir, train.seed) if inspect else None
    if attention is not None:
        callbacks.append(attention)

    started = time.perf_counter()
    history = model.fit(
        dataset, epochs=train.epochs, callbacks=callbacks, verbose=2 if verbose else 0
    )
    train_seconds = time.perf_counter() - started
    epochs_run = len(history.history.get("loss", []))
    examples = epochs_run * len(data.train) * (1 + train.negatives)

    if best.exists():
        model.load_weights(str(best.weights_prefix)).expect_partial()
    check_finite_weights(model)  # a failed run is neither evaluated nor exported
    scorer = make_catalogue_scorer(model, data.chords)
    k = train.top_k
    test = {"sampled": evaluation.sampled(scorer, data.test.users, data.test.items, k=k).to_dict()}
    if full_catalogue:
        full = evaluation.full_catalogue(
            scorer, data.test.users, data.test.positives, exclusions_at_test(data), k=k
        )
        test["full_catalogue"] = {
            **full.to_dict(),
            "users_per_second": full.users / max(full.seconds, 1e-9),
        }
    metrics = {
        "model": run.model_name,
        "data": str(data.path),
        "data_hash": data.manifest.get("content_hash"),
        "k": k,
        "test": test,
        "validation": {
            "hr": best.best.get("val_hr", float("nan")),
            "ndcg": best.best.get("val_ndcg", float("nan")),
        },
        "best_epoch": best.best.get("epoch", 0),
        "epochs": epochs_run,
        "train_seconds": train_seconds,
        "examples_per_second": examples / max(train_seconds, 1e-9),
        "replicas": strategy.num_replicas_in_sync,
    }
    if export_dir is not None:
        from coat_tf.export import export_model

        metrics["export"] = str(export_model(model, data, run, out_root=export_dir))
    return metrics, model
