"""Run config: recipes, YAML, --set overrides with type checks, validation messages."""

import pytest
import yaml

from ssvi.config import ConfigError, load_config, make_config, parse_overrides


def test_recipes() -> None:
    digits = make_config()
    assert digits.dataset == "digits" and digits.model == "cnn" and digits.method == "ssvi"
    cifar = make_config({"dataset": "cifar10"})
    # the reference recipe (Li et al. 2024, code ljb121002/SSVI)
    assert (cifar.model, cifar.epochs, cifar.batch_size, cifar.lr) == ("resnet18", 200, 128, 0.01)
    assert (cifar.kl_weight, cifar.prior_std, cifar.init_sigma, cifar.update_interval) == (
        0.01, 0.005, 6e-4, 100,
    )  # fmt: skip
    assert make_config({"density": 1.0}).method == "dense_vi"
    # the MNIST-1D recipe names its 1D CNN; the other fields are the digits recipe's
    mnist1d = make_config({"dataset": "mnist1d"})
    assert (mnist1d.model, mnist1d.lr, mnist1d.epochs) == ("cnn1d", 0.1, 40)
    assert (mnist1d.density, mnist1d.kl_weight) == (digits.density, digits.kl_weight)


def test_yaml_and_overrides(tmp_path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"dataset": "digits", "lr": "1e-3", "epochs": 3}))
    cfg = load_config(path, ["density=1.0", "removal=snr", "lr_rho=null", "channels_last=true"])
    assert cfg.lr == 1e-3 and cfg.epochs == 3 and cfg.density == 1.0
    assert cfg.removal == "snr" and cfg.lr_rho is None and cfg.channels_last is True


def test_saved_config_round_trips(tmp_path) -> None:
    cfg = make_config({"lr": 0.2, "seed": 7})
    cfg.save(tmp_path / "config.yaml")
    text = (tmp_path / "config.yaml").read_text()
    assert "_git_rev" in text
    assert load_config(tmp_path / "config.yaml") == cfg


@pytest.mark.parametrize(
    "values,message",
    [
        ({"learning_rate": 0.1}, "unknown config field(s) 'learning_rate'; allowed: dataset"),
        ({"epochs": "ten"}, "config field 'epochs': value 'ten' is not allowed; expected int"),
        ({"epochs": 2.5}, "config field 'epochs': value 2.5 is not allowed; expected int"),
        ({"lr": -0.1}, "config field 'lr': value -0.1 is not allowed; allowed: lr > 0"),
        (
            {"density": 0.0},
            "config field 'density': value 0.0 is not allowed; allowed: 0 < density",
        ),
        ({"density": 1.5}, "'density': value 1.5"),
        ({"momentum": 1.0}, "allowed: 0 <= momentum < 1"),
        ({"removal": "abs"}, "config field 'removal': value 'abs' is not allowed; allowed: 'mean'"),
        ({"addition": "magnitude"}, "allowed: 'grad', 'random'"),
        ({"distribution": "er"}, "allowed: 'uniform', 'erk'"),
        ({"dataset": "mnist"}, "config field 'dataset': value 'mnist' is not allowed"),
        ({"model": "vit"}, "allowed: 'mlp', 'cnn', 'cnn1d', 'resnet18'"),
        ({"channels_last": "maybe"}, "expected bool"),
        ({"compile": True}, "config field 'compile'"),
        ({"compile": "fast"}, "allowed: 'off', 'default', 'reduce-overhead', 'max-autotune'"),
        ({"epochs": True}, "expected int"),
        ({"lr": "inf"}, "config field 'lr': value inf is not allowed; allowed: a finite number"),
        ({"update_interval": 1}, "allowed: integer >= 2"),
        ({"grow_accumulation": 30}, "allowed: at most update_interval (25)"),
    ],
)
def test_bad_values_name_field_value_and_allowed(values, message) -> None:
    with pytest.raises(ConfigError) as err:
        make_config(values)
    assert message in str(err.value)


def test_bad_override_syntax_and_missing_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["lr0.1"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml")
