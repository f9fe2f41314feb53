"""COAT against its uniform ablation and GMF on the simulated demo data, over seeds and sizes.

    .venv/bin/python -m bench.demo_experiment [--seeds 0 1 2] [--embedding-sizes 8 16 32 64]
        [--models coat coat-uniform gmf tower-only] [--epochs 30] [--out demo_experiment.json]

For every seed, embedding size and model, trains with the main job's settings (validation NDCG
picks the epoch), then reports test HR@10 / NDCG@10 over the full catalogue (the user's training
and validation songs excluded) and on the 99 stored negatives. For the chord models it also
reports the attention mass on the planted chords (:mod:`coat_tf.inspection.planted`): planted
listeners, songs holding their chord, against the share of positions that chord holds (what
uniform weights give) and against listeners without a planted preference.

``tower-only`` is not a model of its own but a control: COAT's tower over the GMF product alone.
It is ``coat-uniform`` trained and evaluated with every song given the same chord sequence, so
that ``Att`` is one constant vector and the chords carry nothing. Set against GMF, it measures what
reading ``P_u * Q_i`` through the tower instead of GMF's single linear unit costs or gains.

Besides one table per embedding size, a last table compares the models each at the size its
own validation NDCG chose (per seed), the paper's protocol for choosing hyperparameters.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import coat_tf  # noqa: F401  (legacy Keras first)
from coat_tf.config import ModelConfig, RunConfig, TrainConfig
from coat_tf.data import PreparedDataset
from coat_tf.data.demo import prepared_demo
from coat_tf.demo import get_demo
from coat_tf.fileio import atomic_write_text
from coat_tf.inspection.planted import planted_attention_mass
from coat_tf.runner import train_and_evaluate

TOWER_ONLY = "tower-only"


def without_chords(data: PreparedDataset) -> PreparedDataset:
    """``data`` with every song's chord sequence replaced by one chord (id 1) at every position."""
    return dataclasses.replace(data, chords=np.ones_like(data.chords))


def planted_users(data: PreparedDataset) -> tuple[dict[int, list[int]], list[int]]:
    """Chord id -> planted user indices, and the users with no planted preference."""
    planted = json.loads((get_demo() / "planted.json").read_text())
    index = {user: i for i, user in enumerate(data.user_ids)}
    by_chord = {
        data.vocabulary.encode(label): [index[u] for u in users if u in index]
        for label, users in planted["users"].items()
    }
    carriers = {u for users in by_chord.values() for u in users}
    return by_chord, [u for u in range(data.num_users) if u not in carriers]


def _stat(values: Sequence[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {spread:.4f}"


def print_table(title: str, rows: list[dict], models: Sequence[str]) -> None:
    """Mean ± sd per model over ``rows``, with the planted attention figures where present."""
    print(f"\n{title}")
    print(
        f"{'model':14s} {'full NDCG@10':>16s} {'full HR@10':>16s} {'sampled NDCG@10':>16s}"
        "  planted mass / share / control"
    )
    for name in models:
        mine = [r for r in rows if r["model"] == name]
        if not mine:
            continue
        line = f"{name:14s} {_stat([r['full_ndcg'] for r in mine]):>16s}"
        line += f" {_stat([r['full_hr'] for r in mine]):>16s}"
        line += f" {_stat([r['sampled_ndcg'] for r in mine]):>16s}"
        if all("planted" in r for r in mine):
            planted = [r["planted"] for r in mine]
            line += "  " + " / ".join(
                f"{statistics.mean(p[key] for p in planted):.3f}"
                for key in ("mass", "share", "control_mass")
            )
        print(line)


def coat_wins(rows: list[dict], seeds: Sequence[int], models: Sequence[str]) -> int:
    """Seeds in which COAT's full-catalogue NDCG@10 beats every other model's in ``rows``."""
    wins = 0
    for seed in seeds:
        by_model = {r["model"]: r["full_ndcg"] for r in rows if r["seed"] == seed}
        others = [by_model[m] for m in models if m != "coat" and m in by_model]
        if "coat" in by_model and others and by_model["coat"] > max(others):
            wins += 1
    return wins


def chosen_by_validation(rows: list[dict]) -> list[dict]:
    """Per (model, seed), the row of the embedding size with the best validation NDCG."""
    best: dict[tuple[str, int], dict] = {}
    for row in rows:
        key = (row["model"], row["seed"])
        if key not in best or row["val_ndcg"] > best[key]["val_ndcg"]:
            best[key] = row
    return list(best.values())


def report_wins(result: dict, key: str, rows: list[dict], args: argparse.Namespace) -> None:
    """Count and print COAT's wins over the other models in ``rows``, when COAT was run."""
    if "coat" not in args.models or len(args.models) < 2:
        return
    wins = coat_wins(rows, args.seeds, args.models)
    result["wins"][key] = wins
    print(f"COAT has the best full-catalogue NDCG@10 in {wins} of {len(args.seeds)} seeds")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--embedding-sizes", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--models", nargs="+", default=["coat", "coat-uniform", "gmf"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)

    data = PreparedDataset.load(prepared_demo())
    planted, controls = planted_users(data)
    # what each name trains: its registered model on the demo, or the control's stand-in
    setups = {name: (name, data) for name in args.models}
    if TOWER_ONLY in setups:
        setups[TOWER_ONLY] = ("coat-uniform", without_chords(data))
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for size in args.embedding_sizes:
                for name in args.models:
                    model_name, run_data = setups[name]
                    run = RunConfig(
                        model=ModelConfig(
                            num_users=data.num_users,
                            num_songs=data.num_songs,
                            num_chords=data.num_chords,
                            embedding_size=size,
                        ),
                        train=TrainConfig(seed=seed, epochs=args.epochs),
                        model_name=model_name,
                        data_dir=str(data.path),
                    )
                    metrics, recommender = train_and_evaluate(
                        run,
                        run_data,
                        Path(tmp) / f"{name}-{size}-{seed}",
                        verbose=False,
                        inspect=False,
                    )
                    row = {
                        "model": name,
                        "seed": seed,
                        "embedding_size": size,
                        "full_hr": metrics["test"]["full_catalogue"]["hr"],
                        "full_ndcg": metrics["test"]["full_catalogue"]["ndcg"],
                        "sampled_hr": metrics["test"]["sampled"]["hr"],
                        "sampled_ndcg": metrics["test"]["sampled"]["ndcg"],
                        "val_ndcg": metrics["validation"]["ndcg"],
                        "best_epoch": metrics["best_epoch"],
                        "epochs": metrics["epochs"],
                    }
                    if name in ("coat", "coat-uniform"):
                        mass = planted_attention_mass(
                            recommender, data.chords, planted, controls, seed=seed
                        )
                        row["planted"] = mass.to_dict()
                    rows.append(row)
                    print(json.dumps(row), flush=True)

    result: dict = {"rows": rows, "seeds": args.seeds, "wins": {}}
    for size in args.embedding_sizes:
        mine = [r for r in rows if r["embedding_size"] == size]
        print_table(f"d = {size} (mean ± sd over {len(args.seeds)} seeds)", mine, args.models)
        report_wins(result, str(size), mine, args)
    chosen = chosen_by_validation(rows)
    print_table("each model at the embedding size its validation NDCG chose", chosen, args.models)
    for name in args.models:
        sizes = [r["embedding_size"] for r in chosen if r["model"] == name]
        print(f"  {name}: sizes chosen {sizes}")
    report_wins(result, "chosen", chosen, args)
    print(f"\n{len(rows)} runs in {time.perf_counter() - started:.0f} s")
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
