"""RunConfig: defaults, TOML and flags, and a clear error for every malformed setting."""

import dataclasses

import pytest

from descent.cli.config import RunConfig


def test_defaults_are_valid_and_round_trip_through_toml(tmp_path):
    config = RunConfig()
    path = tmp_path / "run.toml"
    path.write_text(config.to_toml())
    assert RunConfig.from_toml(path) == config


def test_a_model_table_becomes_the_grammar_string(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[model]\nkind = "mlp"\nhidden = [64, 32]\nactivation = "tanh"\n')
    assert RunConfig.from_toml(path).model == "mlp:64,32:tanh"


def test_overrides_win_and_none_means_unset(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('lr = 0.3\nepochs = 7\nbatch_size = "full"\n')
    config = RunConfig.from_toml(path, lr=0.01, epochs=None)
    assert (config.lr, config.epochs, config.batch_size) == (0.01, 7, "full")
    assert config.replace(seed=3, lr=None) == dataclasses.replace(config, seed=3)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"learnig_rate": 0.1}, "unknown setting 'learnig_rate'"),
        ({"lr": "fast"}, "lr='fast' must be float"),
        ({"lr": 0}, "lr=0 must be > 0"),
        ({"lr": float("nan")}, "must be a finite number"),
        ({"epochs": 2.5}, "epochs=2.5 must be int"),
        ({"epochs": True}, "epochs=True must be int"),
        ({"epochs": 0}, "epochs=0 must be >= 1"),
        ({"batch_size": "half"}, "batch_size='half' must be a whole number >= 1 or 'full'"),
        ({"batch_size": 0}, "batch_size=0 must be >= 1"),
        ({"optimizer": "rmsprp"}, "unknown optimizer 'rmsprp'; did you mean 'rmsprop'"),
        ({"schedule": "cosin"}, "unknown schedule 'cosin'; did you mean 'cosine'"),
        ({"loss": "crossentropy"}, "did you mean 'cross_entropy'"),
        ({"model": "mlp:64:relux"}, "unknown activation 'relux'"),
        ({"model": {"kind": "mlp", "width": 3}}, "unknown keys ['width']"),
        ({"val_split": 1.0}, "val_split=1.0 must lie in [0.0, 1.0)"),
        ({"test_split": 0.0}, "test_split=0.0 must lie in (0.0, 1.0)"),
        ({"momentum": 0.0, "nesterov": True}, "nesterov needs momentum > 0"),
    ],
)
def test_bad_settings_are_named(values, message):
    with pytest.raises(ValueError) as error:
        RunConfig.from_mapping(values, source="run.toml")
    assert str(error.value).startswith("run.toml: ")
    assert message in str(error.value)


def test_malformed_and_missing_files(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("epochs = 3\n[model\n")
    with pytest.raises(ValueError, match=r"run.toml: not valid TOML: .*line 2"):
        RunConfig.from_toml(path)
    with pytest.raises(FileNotFoundError, match="config file .*nope.toml does not exist"):
        RunConfig.from_toml(tmp_path / "nope.toml")


def test_each_optimizer_gets_its_own_default_rate_and_momentum():
    assert (RunConfig().lr, RunConfig().momentum) == (0.05, 0.9)
    assert (RunConfig(optimizer="adam").lr, RunConfig(optimizer="adam").momentum) == (1e-3, 0.0)
    assert RunConfig(optimizer="rmsprop").momentum == 0.0  # PyTorch's default, not sgd's
    assert RunConfig(optimizer="adagrad").lr == 1e-2
    assert RunConfig(optimizer="adam", lr=0.01).lr == 0.01
