"""Smoke test of ``python -m bench.scale`` at tiny size: every section runs, files are written."""

from __future__ import annotations

import json

from bench import scale
from coat_tf.layers import fused


def test_tiny_run_writes_json_and_markdown(tmp_path):
    out = tmp_path / "out"
    argv = ["--tiny", "--out", str(out), "--prepare-data", str(tmp_path / "data")]
    assert scale.main(argv) == 0
    report = json.loads((out / "scale.json").read_text())
    assert list(report["sections"]) == list(scale.SECTIONS)
    prepare = report["sections"]["prepare"]
    assert [(r["mode"], r["lines"]) for r in prepare["rows"]] == [
        ("read", 20_000),
        ("filter", 20_000),
        ("read", 50_000),
        ("filter", 50_000),
    ]
    assert all(r["peak_rss_mib"] > 0 and r["lines_per_s"] > 0 for r in prepare["rows"])
    filtered = [r for r in prepare["rows"] if r["mode"] == "filter"]
    assert all(0 < r["kept_interactions"] <= r["pairs"] for r in filtered)
    matmul = report["sections"]["matmul"]["rows"][0]
    assert matmul["n"] == 256 and matmul["best_gmac_per_s"] > 0
    extraction = report["sections"]["extraction"]
    if "skipped" not in extraction:  # the audio extra is installed
        assert extraction["rows"][0]["x_real_time"] > 0
    training = report["sections"]["training"]["rows"]
    assert {r["model"] for r in training} == set(scale.scale_models.TRAINING_MODELS)
    assert all(r["examples_per_s"] > 0 and r["macs_per_example"] > 0 for r in training)
    neumf = next(r for r in training if r["model"] == "neumf")
    assert neumf["x_neumf_examples"] == 1 and neumf["x_neumf_arithmetic"] == 1
    coat = next(r for r in training if r["model"] == "coat")
    assert coat["macs_by_part"]["attention"] > 0
    assert coat["attention"] == ("fused" if fused.available() else "split")
    assert next(r for r in training if r["model"] == "coat-split")["attention"] == "split"
    attention = report["sections"]["attention"]["rows"]
    expected = ["fused", "split", "split_xla"] if fused.available() else ["split", "split_xla"]
    assert [r["variant"] for r in attention] == expected
    assert all(r["ms_per_step"] > 0 and r["x_fused_time"] > 0 for r in attention)
    evaluation = report["sections"]["evaluation"]["rows"]
    assert [r["model"] for r in evaluation] == list(scale.scale_models.EVALUATION_MODELS)
    assert all(r["full_users_per_s"] > 0 and r["matmul_floor_s"] > 0 for r in evaluation)
    pipeline = {r["what"]: r for r in report["sections"]["pipeline"]["rows"]}
    assert pipeline["input alone (chords)"]["examples_per_s"] > 0
    assert pipeline["input alone (ids)"]["examples_per_s"] > 0
    for name in scale.scale_pipeline.PIPELINE_MODELS:
        row = pipeline[f"{name}, d = 8"]
        assert row["examples_per_s"] > 0 and row["in_memory_examples_per_s"] > 0
        assert row["x_model"] > 0
    profile = report["sections"]["profile"]["rows"]
    assert {r["model"] for r in profile} == set(scale.scale_profile.PROFILE_MODELS)
    coat_parts = {r["part"]: r["ms_per_step"] for r in profile if r["model"] == "coat"}
    assert coat_parts["attention"] > 0 and coat_parts["attention, backward"] > 0
    assert "optimizer" in coat_parts and "tower" in coat_parts
    assert list((out / "profile" / "coat").glob("plugins/profile/*/*.xplane.pb"))
    markdown = (out / "scale.md").read_text()
    for section in report["sections"].values():
        assert f"## {section['title']}" in markdown
    assert "| checkout | mode | lines |" in markdown
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_a_failing_section_is_recorded_and_the_others_run(tmp_path):
    empty = tmp_path / "no_audio"
    empty.mkdir()
    argv = ["--sections", "extraction", "matmul", "--tiny", "--out", str(tmp_path)]
    status = scale.main([*argv, "--extraction-audio", str(empty)])
    report = json.loads((tmp_path / "scale.json").read_text())
    extraction = report["sections"]["extraction"]
    if "skipped" in extraction:
        return
    assert status == 1
    assert "no audio files" in extraction["error"]
    assert report["sections"]["matmul"]["rows"][0]["best_gmac_per_s"] > 0
    assert "Failed:" in (tmp_path / "scale.md").read_text()


def test_macs_per_example_follow_the_layer_shapes():
    from coat_tf.config import ModelConfig
    from coat_tf.models.registry import build_model

    config = ModelConfig(num_users=10, num_songs=20, num_chords=25, embedding_size=64)
    coat = scale.scale_models.macs_per_example(build_model("coat", config), config)
    # tower 128 -> 256 -> 128 -> 64 -> 1; attention d_u A + L A + V d
    assert coat["dense"] == 128 * 256 + 256 * 128 + 128 * 64 + 64
    assert coat["attention"] == 64 * 64 + 100 * 64 + 25 * 64
    assert coat["gmf"] == 64
    neumf = scale.scale_models.macs_per_example(build_model("neumf", config), config)
    # NCF's MLP on [4F; 4F] embeddings: 512 -> 256 -> 128 -> 64, then [64; 64] -> 1
    assert neumf["dense"] == 512 * 256 + 256 * 128 + 128 * 64 + 128


def test_op_names_are_put_in_parts():
    parts = {"chord_attention": "attention", "tower": "tower", "gmf": "embeddings"}
    part_of = scale.scale_profile.part_of
    assert part_of("coat/chord_attention/GatherV2", parts) == "attention"
    assert part_of("gradient_tape/coat/tower/hidden_0/MatMul", parts) == "tower, backward"
    assert part_of("Adam/AssignAddVariableOp_3", parts) == "optimizer"
    assert part_of("binary_crossentropy/logistic_loss/mul", parts) == "loss and other"
    assert part_of("coat/unknown_layer/add", parts) == "loss and other"


def test_an_xla_trace_is_mapped_back_to_the_layers(tmp_path):
    """With XLA the trace holds compiled kernels, not TensorFlow ops: they are attributed to
    layers through the HLO module stored in the trace."""
    import argparse

    import tensorflow as tf

    models = scale.scale_models
    config = models.model_config(argparse.Namespace(tiny=True), 8)
    data = models.batches(config, ["coat"], 64, 2)
    model, dataset = models.compiled("coat", config, data, xla=True)
    tf.profiler.experimental.start(str(tmp_path))
    model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)
    tf.profiler.experimental.stop()
    profile = scale.scale_profile
    by_part, by_kernel = profile.summarise(profile.trace_file(tmp_path), profile.layer_parts(model))
    assert by_part["attention"] > 0 and by_part["attention, backward"] > 0
    assert by_part["tower"] > 0 and by_part["optimizer"] > 0
    assert any("chord_attention" in kernel for kernel in by_kernel)  # kernels name their ops
