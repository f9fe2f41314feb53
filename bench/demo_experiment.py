"""COAT against its uniform ablation and GMF on the simulated demo data, over several seeds.

    .venv/bin/python -m bench.demo_experiment [--seeds 0 1 2] [--models coat coat-uniform gmf]
        [--embedding-size 64] [--out demo_experiment.json]

For every seed and model, trains with the main job's settings (validation NDCG picks the
epoch), then reports test HR@10 / NDCG@10 over the full catalogue (the user's training and
validation songs excluded) and on the 99 stored negatives. For the chord models it also reports
the attention mass on the planted chords (:mod:`coat_tf.inspection.planted`): planted listeners,
songs holding their chord, against the share of positions that chord holds (what uniform
weights give) and against listeners without a planted preference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import coat_tf  # noqa: F401  (legacy Keras first)
from coat_tf.config import ModelConfig, RunConfig, TrainConfig
from coat_tf.data import PreparedDataset
from coat_tf.demo import get_demo
from coat_tf.fileio import atomic_write_text
from coat_tf.inspection.planted import planted_attention_mass
from coat_tf.runner import train_and_evaluate
from coat_tf.train import demo_data_dir


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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=["coat", "coat-uniform", "gmf"])
    parser.add_argument("--embedding-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)

    data = PreparedDataset.load(demo_data_dir())
    planted, controls = planted_users(data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for name in args.models:
                run = RunConfig(
                    model=ModelConfig(
                        num_users=data.num_users,
                        num_songs=data.num_songs,
                        num_chords=data.num_chords,
                        embedding_size=args.embedding_size,
                    ),
                    train=TrainConfig(seed=seed, epochs=args.epochs),
                    model_name=name,
                    data_dir=str(data.path),
                )
                metrics, model = train_and_evaluate(
                    run, data, Path(tmp) / f"{name}-{seed}", verbose=False, inspect=False
                )
                row = {
                    "model": name,
                    "seed": seed,
                    "full_hr": metrics["test"]["full_catalogue"]["hr"],
                    "full_ndcg": metrics["test"]["full_catalogue"]["ndcg"],
                    "sampled_hr": metrics["test"]["sampled"]["hr"],
                    "sampled_ndcg": metrics["test"]["sampled"]["ndcg"],
                    "best_epoch": metrics["best_epoch"],
                }
                if name.startswith("coat"):
                    mass = planted_attention_mass(model, data.chords, planted, controls, seed=seed)
                    row["planted"] = mass.to_dict()
                rows.append(row)
                print(json.dumps(row), flush=True)

    print(
        f"\n{'model':14s} {'full NDCG@10':>16s} {'full HR@10':>16s} {'sampled NDCG@10':>16s}"
        "  planted mass / share / control"
    )
    summary = {}
    for name in args.models:
        mine = [r for r in rows if r["model"] == name]

        def stat(key: str, rows=mine) -> str:
            values = [r[key] for r in rows]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.4f} ± {spread:.4f}"

        line = f"{name:14s} {stat('full_ndcg'):>16s} {stat('full_hr'):>16s}"
        line += f" {stat('sampled_ndcg'):>16s}"
        if "planted" in mine[0]:
            p = [r["planted"] for r in mine]
            line += (
                f"  {statistics.mean(x['mass'] for x in p):.3f} / "
                f"{statistics.mean(x['share'] for x in p):.3f} / "
                f"{statistics.mean(x['control_mass'] for x in p):.3f}"
            )
        print(line)
        summary[name] = mine
    wins = (
        sum(
            1
            for s in args.seeds
            if all(
                next(r for r in rows if r["model"] == "coat" and r["seed"] == s)["full_ndcg"]
                > next(r for r in rows if r["model"] == other and r["seed"] == s)["full_ndcg"]
                for other in args.models
                if other != "coat"
            )
        )
        if "coat" in args.models
        else 0
    )
    print(f"\nCOAT has the best full-catalogue NDCG@10 in {wins} of {len(args.seeds)} seeds")
    result = {"rows": rows, "coat_wins": wins, "seeds": args.seeds}
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
