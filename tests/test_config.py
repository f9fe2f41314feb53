from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from coat_tf import config as cfg
from coat_tf.config import ItemKnnConfig, ModelConfig, RunConfig, TrainConfig


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


def test_itemknn_neighbours_round_trip_and_validation(tmp_path) -> None:
    run = RunConfig(model=ModelConfig(itemknn=ItemKnnConfig(neighbours=7)), model_name="itemknn")
    cfg.save(run, tmp_path / "config.json")
    again = cfg.load(RunConfig, tmp_path / "config.json")
    assert again == run and again.model.itemknn.neighbours == 7
    assert ModelConfig().itemknn.neighbours == 100
    for value in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match=f"neighbours must be a positive integer, got {value}"):
            ItemKnnConfig(neighbours=value)
    with pytest.raises(ValueError, match="itemknn: neighbours must be"):
        cfg.from_dict(RunConfig, {"model": {"itemknn": {"neighbours": 0}}})
    with pytest.raises(ValueError, match="itemknn: unknown ItemKnnConfig field"):
        cfg.from_dict(ModelConfig, {"itemknn": {"k": 5}})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("3", "RunConfig expects a JSON object, got a number"),
        ("null", "RunConfig expects a JSON object, got null"),
        ("[1, 2]", "RunConfig expects a JSON object, got a list"),
        ('{"train": null}', "train: TrainConfig expects a JSON object, got null"),
        ('{"train": {"epochs": "3"}}', "train: epochs must be a positive integer, got '3'"),
        ('{"train": {"epochs": {"n": 3}}}', "train: epochs must be a positive integer"),
        ('{"train": {"epochs": true}}', "train: epochs must be a positive integer, got True"),
        ('{"train": {"learning_rate": [0.1]}}', "train: learning_rate must be a finite positive"),
        ('{"train": {"seed": -1}}', "train: seed must be in 0..4294967295"),
        ('{"train": {"pretrain_alpha": true}}', "train: pretrain_alpha must be in [0, 1]"),
        ('{"train": {"pretrain_gmf": 1, "pretrain_mlp": 2}}', "train: pretrain_gmf must be a run"),
        ('{"model": {"embedding_init_std": true}}', "model: embedding_init_std must be a finite"),
        ('{"model": {"dropout": false}}', "model: dropout must be in [0, 1), got False"),
        ('{"model_name": "bert"}', "model_name: unknown model 'bert'; choose one of coat"),
        ('{"model_name": ["gmf"]}', "model_name must be a model name, got ['gmf']"),
        ('{"data_dir": 5}', "data_dir must be a folder or null, got 5"),
        ('{"epochs": 3}', "unknown RunConfig field(s): epochs"),
    ],
)
def test_a_badly_shaped_config_file_is_named_with_its_key(tmp_path, text: str, words: str) -> None:
    """Every error of a config file starts with the file and names the key at fault."""
    path = tmp_path / "run.json"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        cfg.load(RunConfig, path)
    assert str(error.value).startswith(f"{path}: ")
    assert words in str(error.value)


@dataclass
class _Unchecked:
    """A config whose fields have no checks of their own."""

    count: int = 1
    rate: float = 0.5
    name: str | None = None
    flag: bool = False


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"count": "3"}, "count must be an integer, got '3' (a string)"),
        ({"count": 2.0}, "count must be an integer, got 2.0 (a number)"),
        ({"count": True}, "count must be an integer, got True (true or false)"),
        ({"rate": [0.1]}, "rate must be a number, got [0.1] (a list)"),
        ({"rate": {"a": 1}}, "rate must be a number, got {'a': 1} (an object)"),
        ({"name": 5}, "name must be a string or null, got 5 (a number)"),
        ({"flag": "yes"}, "flag must be true or false, got 'yes' (a string)"),
    ],
)
def test_a_value_of_the_wrong_json_kind_is_refused_by_its_annotation(data, words: str) -> None:
    """A field without checks of its own still gets a value of the kind its annotation says."""
    with pytest.raises(ValueError) as error:
        cfg.from_dict(_Unchecked, data)
    assert words in str(error.value)
    assert cfg.from_dict(_Unchecked, {"count": 2, "rate": 1, "name": None}).rate == 1


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
