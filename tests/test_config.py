from __future__ import annotations

import json

import pytest

from coat_tf import config as cfg
from coat_tf.config import ModelConfig, RunConfig, TrainConfig


def test_round_trip_through_json_file(tmp_path) -> None:
    run = RunConfig(
        model=ModelConfig(num_users=7, num_songs=9, embedding_size=16, attention_mode="uniform"),
        train=TrainConfig(batch_size=64, learning_rate=0.01),
        model_name="coat-uniform",
    )
    cfg.save(run, tmp_path / "config.json")
    assert cfg.load(RunConfig, tmp_path / "config.json") == run
    assert json.loads((tmp_path / "config.json").read_text())["model"]["num_users"] == 7
    assert not list(tmp_path.glob(".*tmp"))


def test_tower_widths_halve() -> None:
    assert ModelConfig(embedding_size=64).tower_widths == [256, 128, 64]
    assert ModelConfig(embedding_size=8, tower_layers=2).tower_widths == [16, 8]
    assert ModelConfig(embedding_size=8, tower_width=32).tower_widths == [32, 16, 8]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("embedding_size", 0),
        ("embedding_size", 8.5),
        ("num_users", -1),
        ("attention_mode", "softmax"),
        ("attention_user_embedding", "global"),
        ("dropout", 1.0),
        ("l2", -0.1),
        ("tower_width", 2),
    ],
)
def test_validation_names_field_and_value(field: str, value) -> None:
    with pytest.raises(ValueError) as error:
        ModelConfig(**{field: value})
    assert field in str(error.value)
    assert repr(value) in str(error.value)


@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_steps_per_execution_must_be_a_positive_integer(value) -> None:
    with pytest.raises(ValueError) as error:
        TrainConfig(steps_per_execution=value)
    assert "steps_per_execution" in str(error.value)


def test_unknown_field_is_named() -> None:
    with pytest.raises(ValueError, match="embeding_size"):
        cfg.from_dict(ModelConfig, {"embeding_size": 8})
    with pytest.raises(ValueError, match="learning_rate"):
        cfg.from_dict(RunConfig, {"train": {"learning_rate": 0}})


@pytest.mark.parametrize(("name", "mode"), list(cfg.MODEL_ATTENTION_MODES.items()))
def test_a_coat_model_name_records_its_attention_mode(tmp_path, name: str, mode: str) -> None:
    assert RunConfig(model_name=name).model.attention_mode == mode
    # a config.json written before the mode was recorded reads as the model trained
    (tmp_path / "config.json").write_text(json.dumps({"model_name": name}))
    assert cfg.load(RunConfig, tmp_path / "config.json").model.attention_mode == mode


def test_an_attention_mode_that_contradicts_the_model_name_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="'uniform'.*'coat'.*'coat-uniform'"):
        RunConfig(model=ModelConfig(attention_mode="uniform"), model_name="coat")
    run = {"model_name": "coat-ones", "model": {"attention_mode": "uniform"}}
    (tmp_path / "run.json").write_text(json.dumps(run))
    with pytest.raises(ValueError, match="run.json.*attention_mode"):
        cfg.load(RunConfig, tmp_path / "run.json")
    assert RunConfig(model_name="gmf").model.attention_mode == "learned"  # not a COAT model
