"""One training run: fit with validation each epoch, keep the best weights, test, export.

Every model goes through the same steps and the same evaluator; only the fitting differs:

- the Keras models (:func:`fit_keras`): Adam (or SGD) on binary cross-entropy over each
  positive and ``negatives`` fresh sampled negatives per epoch;
- WMF (:func:`fit_wmf`): one ALS iteration per "epoch";
- popularity, item-kNN, chord-histogram and random (:func:`fit_one_pass`): fitted once, no
  epochs.

After every epoch the sampled validation HR/NDCG are computed; the weights with the best
validation NDCG are kept, training stops after ``patience`` epochs without improvement, and the
test figures are those of the best weights. The test split is read only by
:func:`evaluate_test`, which ``evaluate_test=False`` (the tuner) never calls.

On a data set with new songs (``prepare --new-songs``), the best weights also rank the new songs
(:mod:`coat_tf.new_songs_evaluation`): ``metrics["new_songs"]`` holds the valid shelf's block,
and the test shelf's where the test split is evaluated.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

from coat_tf import distribute, evaluation, per_user
from coat_tf.callbacks import (
    BestWeights,
    StopOnInterrupt,
    StopOnNonFiniteLoss,
    StopWithoutImprovement,
    TestEveryEpoch,
    ValidationRanking,
    check_finite_weights,
    patience_spent,
)
from coat_tf.config import RunConfig, TrainConfig
from coat_tf.data import PreparedDataset, batches_per_pass, make_train_dataset
from coat_tf.fileio import atomic_write_text
from coat_tf.layers import ChordAttention, fused
from coat_tf.models import (
    ModelSpec,
    WmfRecommender,
    WmfTrainer,
    get_spec,
    load_pretrained,
    song_tables,
)
from coat_tf.models.recommender import Recommender
from coat_tf.models.wmf import confidence_matrix
from coat_tf.new_songs_evaluation import evaluate_new_songs
from coat_tf.runs import TRAINED_FILE, WMF_STATE, epochs_trained
from coat_tf.trained import RunError, best_factors_path, best_state_path, load_keras_model


def _attention_callback(
    recommender: Recommender, data: PreparedDataset, log_dir: Path, seed: int
) -> tf.keras.callbacks.Callback | None:
    """TensorBoard attention summaries for models that have a chord attention."""
    if not recommender.has_attention:
        return None
    from coat_tf.inspection import AttentionSummary, choose_probes, song_display_names

    probes = choose_probes(data, seed=seed)
    return AttentionSummary(
        str(log_dir),
        probes,
        list(data.vocabulary.labels),
        recommender,
        user_names=data.user_ids,
        song_names=song_display_names(data),
    )


def exclusions_at_test(data: PreparedDataset) -> list[np.ndarray]:
    """Per test user: their training songs and their validation song."""
    valid_song = dict(zip(data.valid.users.tolist(), data.valid.positives.tolist(), strict=True))
    return evaluation.training_exclusions(data.train_items_by_user(), data.test.users, valid_song)


def _optimizer(train: TrainConfig) -> tf.keras.optimizers.Optimizer:
    if train.optimizer == "sgd":
        return tf.keras.optimizers.SGD(train.learning_rate)
    return tf.keras.optimizers.Adam(train.learning_rate)


def use_xla(
    jit_compile: bool, spec: ModelSpec, strategy: tf.distribute.Strategy, fused_op: bool = False
) -> bool:
    """Whether the training step is compiled with XLA: as configured (``jit_compile``), except
    on CPU for the models whose spec says XLA slows them (``ModelSpec.xla_on_cpu``), for a
    model that runs the fused chord attention op (``fused_op``), which XLA cannot compile, and
    for several replicas on logical CPU devices, where XLA cannot reach the other devices'
    variables (TensorFlow's known XLA issue "tf.Variable on a different device")."""
    on_cpu = not tf.config.list_logical_devices("GPU")
    cpu_replicas = strategy.num_replicas_in_sync > 1 and on_cpu
    return jit_compile and not cpu_replicas and not fused_op and (spec.xla_on_cpu or not on_cpu)


def optimizer_xla(
    jit_compile: bool, strategy: tf.distribute.Strategy, fused_op: bool = False
) -> bool:
    """Whether the optimizer's update is compiled with XLA on its own, outside the training
    step: for a model that runs the fused chord attention op (whose step XLA cannot compile),
    when ``jit_compile`` is configured, on one replica. Keras leaves it off on CPU; for COAT it
    doubles the examples per second there (the README's Performance)."""
    return jit_compile and fused_op and strategy.num_replicas_in_sync == 1


def _learned_attention(model: tf.keras.Model) -> list[ChordAttention]:
    return [
        layer
        for layer in model.layers
        if isinstance(layer, ChordAttention) and layer.mode == "learned"
    ]


def uses_fused_op(model: tf.keras.Model) -> bool:
    """Whether ``model``'s chord attention runs the fused op (:mod:`coat_tf.layers.fused`)."""
    return any(layer.uses_fused_op() for layer in _learned_attention(model))


def attention_note(model: tf.keras.Model) -> str | None:
    """The line training prints when a chord attention left to ``"auto"`` falls back to the
    split form because the fused op is unavailable; None otherwise."""
    layers = _learned_attention(model)
    if any(layer.implementation == "auto" for layer in layers) and not fused.available():
        return f"chord attention: split form (fused op unavailable: {fused.unavailable_reason()})"
    return None


def steps_per_execution(configured: int, strategy: tf.distribute.Strategy) -> int:
    """Training steps per call of the compiled step: as configured
    (``TrainConfig.steps_per_execution``) on one replica, 1 on several, where the collective
    ops inside a multi-step execution need equal shapes on every replica and the short last
    batch of an epoch splits unevenly between them."""
    return configured if strategy.num_replicas_in_sync == 1 else 1


def fit_keras(
    run: RunConfig,
    spec: ModelSpec,
    data: PreparedDataset,
    tables: dict[str, np.ndarray],
    run_dir: Path,
    strategy: tf.distribute.Strategy,
    verbose: bool,
    inspect: bool,
) -> tuple[Recommender, dict]:
    """Train a Keras model; returns its scoring interface (best weights loaded) and figures.

    Under ``MultiWorkerMirroredStrategy`` every worker trains; only the chief writes the best
    weights and TensorBoard logs into ``run_dir`` (the others into a private folder they
    remove), and each epoch is a fixed number of global steps over a repeated input, so that
    the workers' steps stay in step (:mod:`coat_tf.distribute`).
    """
    train = run.train
    chief = distribute.is_chief()
    own_dir = run_dir if chief else run_dir / f".{distribute.worker_name()}.partial"
    trained = _read_trained(run_dir)
    if trained is not None:  # training ended before a kill: evaluate its best weights
        model = spec.build(run.model)
        model.load_weights(str(BestWeights(run_dir).weights_prefix)).expect_partial()
        return spec.wrap(model, run.model, tables), trained
    with strategy.scope():
        model = spec.build(run.model)
        note = attention_note(model)
        if note and chief:
            print(note)
        if train.pretrain_gmf:
            _pretrain(model, run)
        fused_op = uses_fused_op(model)
        optimizer = _optimizer(train)
        optimizer.jit_compile = optimizer_xla(train.jit_compile, strategy, fused_op) or (
            optimizer.jit_compile
        )
        model.compile(
            optimizer=optimizer,
            loss=tf.keras.losses.BinaryCrossentropy(),
            jit_compile=use_xla(train.jit_compile, spec, strategy, fused_op),
            steps_per_execution=steps_per_execution(train.steps_per_execution, strategy),
        )
    recommender = spec.wrap(model, run.model, tables)
    dataset = make_train_dataset(
        data,
        batch_size=train.batch_size,
        negatives=train.negatives,
        seed=train.seed,
        song_tables=tables,
    )
    # An epoch is a counted number of steps of the repeated input: Keras then needs no
    # end-of-data signal, which it cannot take in the middle of a multi-step execution, and
    # every worker knows the count.
    steps_per_epoch = batches_per_pass(data, train.batch_size, train.negatives)
    dataset = dataset.repeat()
    if distribute.is_multi_worker(strategy):
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        dataset = dataset.with_options(options)
    tensorboard_dir = own_dir / "tensorboard"
    best = BestWeights(own_dir)
    validation = ValidationRanking(recommender, data.valid.users, data.valid.items, train.top_k)
    test_each_epoch = (
        TestEveryEpoch(
            recommender, data.test.users, data.test.items, train.top_k, run_dir if chief else None
        )
        if train.test_every_epoch
        else None
    )
    if train.pretrain_gmf and not best.best:
        _offer_the_start(model, validation, best, test_each_epoch)
    interrupt = StopOnInterrupt()
    callbacks = [
        StopOnNonFiniteLoss(run_dir),  # first: a diverged run stops before the others look
        validation,
        best,
        StopWithoutImprovement(best, train.early_stopping_patience),
        tf.keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        interrupt,  # after the backup: the epoch a swallowed Ctrl-C fell in is kept
    ]
    if test_each_epoch is not None:  # after the early stopping and the best weights
        callbacks.append(test_each_epoch)
    callbacks.append(tf.keras.callbacks.TensorBoard(str(tensorboard_dir), histogram_freq=0))
    attention = (
        _attention_callback(recommender, data, tensorboard_dir, train.seed)
        if inspect and chief
        else None
    )
    if attention is not None:
        callbacks.append(attention)

    done_before, _ = epochs_trained(run_dir)  # by a run that was killed or interrupted
    started = time.perf_counter()
    try:
        history = model.fit(
            dataset,
            epochs=train.epochs,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            verbose=2 if verbose else 0,
        )
    finally:
        interrupt.restore()
    seconds = time.perf_counter() - started
    epochs_run = len(history.history.get("loss", []))  # in this process
    # counted from the run's start; a resumed run whose last epoch had ended runs none here
    epochs = history.epoch[-1] + 1 if history.epoch else done_before
    if distribute.is_multi_worker(strategy):
        # after training the workers part: the chief scores and exports a copy of the model
        # built outside the strategy, so that nothing waits on the others' collective ops
        if not chief:
            shutil.rmtree(own_dir, ignore_errors=True)
        trained = model
        model = spec.build(run.model)
        model.set_weights(trained.get_weights())
        recommender = spec.wrap(model, run.model, tables)
    if best.exists():
        model.load_weights(str(best.weights_prefix)).expect_partial()
    examples = epochs_run * len(data.train) * (1 + train.negatives)
    figures = {
        "best": best.best,
        "epochs": epochs,
        "epochs_this_process": epochs_run,
        "train_seconds": seconds,
        "examples_per_second": examples / max(seconds, 1e-9),
    }
    if chief and best.exists():
        atomic_write_text(run_dir / TRAINED_FILE, json.dumps(figures, indent=2) + "\n")
    return recommender, figures


def _read_trained(run_dir: Path) -> dict | None:
    """The figures of a finished training (``trained.json``) whose best weights are there."""
    path = run_dir / TRAINED_FILE
    if not path.is_file() or not BestWeights(run_dir).exists():
        return None
    try:
        figures = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RunError(f"{path}: unreadable ({error}); delete it to train again") from None
    return figures


def _offer_the_start(
    model: tf.keras.Model,
    validation: ValidationRanking,
    best: BestWeights,
    test_each_epoch: TestEveryEpoch | None,
) -> None:
    """Validate the weights training starts from, as epoch 0, and keep them if no epoch does
    better.

    For a pre-trained NeuMF: its start, ``[alpha h_gmf; (1 - alpha) h_mlp]`` of two trained
    models, is already a model, and training it further can make it worse (on MovieLens-1M
    every epoch after the start did: see the README). NCF's code evaluates the start too
    ("Init") and keeps it if no epoch beats it.
    """
    logs: dict = {}
    validation.evaluate(logs)
    best.set_model(model)
    best.offer(0, logs)
    if test_each_epoch is not None:
        test_each_epoch.record(0, {})


def _pretrain(model: tf.keras.Model, run: RunConfig) -> None:
    """NCF pre-training: NeuMF from a GMF run and an MLP run (see ``TrainConfig``)."""
    if run.model_name != "neumf":
        raise RunError(f"pre-training applies to neumf only, not {run.model_name!r}")
    gmf_run, gmf = load_keras_model(run.train.pretrain_gmf, expect_model="gmf")
    mlp_run, mlp = load_keras_model(run.train.pretrain_mlp, expect_model="mlp")
    for name, other in (("GMF", gmf_run), ("MLP", mlp_run)):
        if other.model.embedding_size != run.model.embedding_size:
            raise RunError(
                f"the pre-trained {name} has {other.model.embedding_size} predictive factors, "
                f"this NeuMF {run.model.embedding_size}"
            )
        if other.data_dir and run.data_dir and Path(other.data_dir) != Path(run.data_dir):
            raise RunError(
                f"the pre-trained {name} was trained on {other.data_dir}, not {run.data_dir}"
            )
    try:
        load_pretrained(model, gmf, mlp, alpha=run.train.pretrain_alpha)
    except ValueError as error:
        raise RunError(str(error)) from None


def fit_wmf(
    run: RunConfig, data: PreparedDataset, run_dir: Path, verbose: bool
) -> tuple[Recommender, dict]:
    """WMF by ALS, one iteration per epoch, validation NDCG after each (see the module doc).

    The state after each iteration is kept in ``wmf_state.npz``, so a killed run continues
    from its last finished iteration; the best factors are in ``best/factors.npz``.
    """
    train = run.train
    confidence = confidence_matrix(
        data.train["user"].to_numpy(),
        data.train["song"].to_numpy(),
        data.train["play_count"].to_numpy(),
        data.num_users,
        data.num_songs,
        run.model.wmf,
    )
    trainer = WmfTrainer(confidence, run.model.embedding_size, run.model.wmf, seed=train.seed)
    best = BestWeights.read(run_dir)
    state_path = run_dir / WMF_STATE
    if state_path.is_file():
        with np.load(state_path) as state:
            trainer.model.user_factors = state["users"]
            trainer.model.item_factors = state["songs"]
            trainer.iterations = int(state["iterations"])
    recommender = WmfRecommender(
        np.zeros((data.num_users, run.model.embedding_size), np.float32),
        np.zeros((data.num_songs, run.model.embedding_size), np.float32),
    )
    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard" / "validation"))
    started = time.perf_counter()
    done_here = 0
    while trainer.iterations < train.epochs:
        if patience_spent(trainer.iterations, best, train.early_stopping_patience):
            break
        trainer.step()
        done_here += 1
        recommender.assign(*trainer.factors())
        result = evaluation.sampled(recommender, data.valid.users, data.valid.items, train.top_k)
        iteration = trainer.iterations
        with writer.as_default(step=iteration - 1):
            tf.summary.scalar("val_hr", result.hr)
            tf.summary.scalar("val_ndcg", result.ndcg)
        if verbose:
            print(f"iteration {iteration}: val_hr {result.hr:.4f}  val_ndcg {result.ndcg:.4f}")
        if not best or result.ndcg > best["val_ndcg"]:
            recommender.save(best_factors_path(run_dir))
            best = {"epoch": iteration, "val_hr": result.hr, "val_ndcg": result.ndcg}
            atomic_write_text(run_dir / "best.json", json.dumps(best, indent=2) + "\n")
        _save_state(state_path, trainer)
    seconds = time.perf_counter() - started
    writer.close()
    if best:
        recommender = WmfRecommender.load(best_factors_path(run_dir))
    return recommender, {
        "best": best,
        "epochs": trainer.iterations,
        "train_seconds": seconds,
        "iterations_per_second": done_here / max(seconds, 1e-9),
    }


def fit_one_pass(
    run: RunConfig,
    spec: ModelSpec,
    data: PreparedDataset,
    run_dir: Path,
    verbose: bool,
    tables: Mapping[str, np.ndarray] | None = None,
) -> tuple[Recommender, dict]:
    """A model fitted once from the training pairs (``spec.fitted``, with the run's seed and
    the song content ``tables`` it reads), validated once.

    The fitted state is kept in ``best/state.npz`` and ``best.json`` records its validation
    figures (as epoch 0, there being no epochs), so a run killed after fitting is only
    evaluated on ``--resume``, and :func:`coat_tf.trained.load_recommender` reads it back.
    """
    path = best_state_path(run_dir)
    best = BestWeights.read(run_dir)
    started = time.perf_counter()
    if best and path.is_file():  # fitted before a kill: evaluate what was fitted
        try:
            recommender = spec.fitted.load(path)
        except ValueError as error:
            raise RunError(
                f"{error}; remove {run_dir / 'best.json'} to fit the model again"
            ) from None
        seconds = best.get("train_seconds", 0.0)
        return recommender, {"best": best, "epochs": 0, "train_seconds": seconds}
    recommender = spec.fitted.fit(
        data.train["user"].to_numpy(),
        data.train["song"].to_numpy(),
        run.model,
        seed=run.train.seed,
        song_tables=tables,
    )
    seconds = time.perf_counter() - started
    result = evaluation.sampled(recommender, data.valid.users, data.valid.items, run.train.top_k)
    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard" / "validation"))
    with writer.as_default(step=0):
        tf.summary.scalar("val_hr", result.hr)
        tf.summary.scalar("val_ndcg", result.ndcg)
    writer.close()
    if verbose:
        print(f"fitted in {seconds:.1f} s: val_hr {result.hr:.4f}  val_ndcg {result.ndcg:.4f}")
    recommender.save(path)
    best = {"epoch": 0, "val_hr": result.hr, "val_ndcg": result.ndcg, "train_seconds": seconds}
    atomic_write_text(run_dir / "best.json", json.dumps(best, indent=2) + "\n")
    return recommender, {"best": best, "epochs": 0, "train_seconds": seconds}


def _save_state(path: Path, trainer: WmfTrainer) -> None:
    import io

    from coat_tf.fileio import atomic_write_bytes

    users, songs = trainer.factors()
    buffer = io.BytesIO()
    np.savez(buffer, users=users, songs=songs, iterations=trainer.iterations)
    atomic_write_bytes(path, buffer.getvalue())


def evaluate_test(
    recommender: Recommender,
    data: PreparedDataset,
    k: int,
    full_catalogue: bool = True,
    rankings: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict:
    """Test HR@k / NDCG@k: sampled (the stored negatives) and over the full catalogue; for a
    dot-product model also through TFRS ``BruteForce`` (a cross-check of the full figures).
    ``rankings``, where given, receives each user's rank (for :mod:`coat_tf.per_user`) under
    ``test/sampled`` and ``test/full_catalogue``."""
    test = {"sampled": evaluation.sampled(recommender, data.test.users, data.test.items, k=k)}
    if full_catalogue:
        exclude = exclusions_at_test(data)
        test["full_catalogue"] = evaluation.full_catalogue(
            recommender, data.test.users, data.test.positives, exclude, k=k
        )
        if recommender.is_dot_product:
            test["full_catalogue_tfrs"] = evaluation.full_catalogue_tfrs(
                recommender, data.test.users, data.test.positives, exclude, k=k
            )
    out = {name: result.to_dict() for name, result in test.items()}
    if rankings is not None:
        for name in ("sampled", "full_catalogue"):
            if name in test:
                rankings[f"test/{name}"] = (data.test.users, test[name].ranks)
    for name, result in test.items():
        if name != "sampled":
            out[name]["users_per_second"] = result.users / max(result.seconds, 1e-9)
    return out


def train_and_evaluate(
    run: RunConfig,
    data: PreparedDataset,
    run_dir: Path,
    strategy: tf.distribute.Strategy | None = None,
    full_catalogue: bool = True,
    export_dir: Path | None = None,
    verbose: bool = True,
    inspect: bool = True,
    evaluate_on_test: bool = True,
) -> tuple[dict, Recommender]:
    """Train ``run.model_name`` on ``data``.

    Returns the figures written to ``metrics.json`` and the model's scoring interface with its
    best weights. A run killed mid-way continues from its last finished epoch when started
    again on the same ``run_dir``. ``inspect`` adds the TensorBoard attention summaries.
    ``evaluate_on_test=False`` never reads the test split (hyperparameter search); it also skips
    the export. In a multi-worker cluster only the chief evaluates on test and exports.
    Where ``data.new_songs`` is not None, ``metrics["new_songs"]`` ranks them
    (:func:`~coat_tf.new_songs_evaluation.evaluate_new_songs`): the valid shelf always, the
    test shelf only with ``evaluate_on_test``.

    Raises:
        coat_tf.models.MissingContentError: the model reads content the data set lacks.
        RunError: ``top_k`` is larger than the sampled candidate lists.
    """
    spec = get_spec(run.model_name)
    try:
        evaluation.check_top_k(run.train.top_k, data, test=evaluate_on_test)
    except ValueError as error:
        raise RunError(str(error)) from None
    tables = song_tables(spec, data, run.model)
    tf.keras.utils.set_random_seed(run.train.seed)
    strategy = strategy or tf.distribute.get_strategy()
    if spec.trainer != "keras" and distribute.is_multi_worker(strategy):
        how = "by ALS" if spec.trainer == "als" else "in one pass"
        raise RunError(f"{run.model_name} trains {how} on one machine; unset TF_CONFIG")
    if run.train.test_every_epoch and (spec.trainer != "keras" or not evaluate_on_test):
        raise RunError(
            "test_every_epoch evaluates the test split after each epoch of a Keras model: "
            + (
                "a search never reads test"
                if spec.trainer == "keras"
                else f"{'WMF' if spec.trainer == 'als' else run.model_name} has no epochs"
            )
        )
    if spec.trainer == "als":
        recommender, fit = fit_wmf(run, data, run_dir, verbose)
    elif spec.trainer == "one_pass":
        recommender, fit = fit_one_pass(run, spec, data, run_dir, verbose, tables)
    else:
        recommender, fit = fit_keras(run, spec, data, tables, run_dir, strategy, verbose, inspect)
    best = fit.pop("best")
    check_finite_weights(recommender)  # a failed run is neither evaluated nor exported
    metrics = {
        "model": run.model_name,
        "data": str(data.path),
        "data_hash": data.manifest.get("content_hash"),
        "k": run.train.top_k,
        "validation": {
            "hr": best.get("val_hr", float("nan")),
            "ndcg": best.get("val_ndcg", float("nan")),
        },
        "best_epoch": best.get("epoch", 0),
        **fit,
        "replicas": strategy.num_replicas_in_sync,
    }
    rankings: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # each row's rank: per_user.npz
    if getattr(data, "new_songs", None) is not None and distribute.is_chief():
        shelves = ("valid", "test") if evaluate_on_test else ("valid",)
        metrics["new_songs"] = evaluate_new_songs(
            recommender, data, run.train.top_k, shelves, rankings
        )
    if evaluate_on_test and distribute.is_chief():
        metrics["test"] = evaluate_test(
            recommender, data, run.train.top_k, full_catalogue, rankings=rankings
        )
        per_user.save(run_dir, run.train.top_k, rankings)
        if run.train.test_every_epoch:
            metrics["test_every_epoch"] = TestEveryEpoch.summary(run_dir)
        if export_dir is not None:
            from coat_tf.export import export_model

            metrics["export"] = str(export_model(recommender, data, run, out_root=export_dir))
    return metrics, recommender
