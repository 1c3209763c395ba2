"""The run config's ``width`` field: the model's default when null, validated, used by training
and by the export round trip."""

import pytest
import torch

from ssvi.config import ConfigError, RunConfig, make_config, run_identity
from ssvi.evaluate import predict
from ssvi.export import export_model, load_exported
from ssvi.models import WIDTH_MODELS, create_model
from ssvi.train import Trainer


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_null_width_is_the_models_default() -> None:
    assert RunConfig.width is None and make_config().width is None
    for name, shape in (("mlp", (1, 8, 8)), ("cnn1d", (1, 1, 40))):
        default = create_model(name, shape, 10)
        assert _n_params(create_model(name, shape, 10, None)) == _n_params(default)
    # the default widths: 256 hidden units (mlp), 32 channels (cnn1d)
    assert _n_params(create_model("cnn1d", (1, 1, 40), 10)) == _n_params(
        create_model("cnn1d", (1, 1, 40), 10, 32)
    )
    assert _n_params(create_model("mlp", (1, 8, 8), 10)) == _n_params(
        create_model("mlp", (1, 8, 8), 10, 256)
    )


def test_width_sets_the_channels_and_hidden_units() -> None:
    conv = create_model("cnn1d", (1, 1, 40), 10, 64)
    convs = [m for m in conv.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [m.out_channels for m in convs] == [64, 64, 64]
    mlp = create_model("mlp", (1, 8, 8), 10, 16)
    linears = [m for m in mlp.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [16, 16, 10]
    assert sorted(WIDTH_MODELS) == ["cnn1d", "mlp"]
    with pytest.raises(ValueError, match="model 'cnn' has no width"):
        create_model("cnn", (1, 8, 8), 10, 64)


def test_width_from_overrides_and_yaml_null() -> None:
    assert make_config({"dataset": "mnist1d", "width": "64"}).width == 64
    assert make_config({"model": "mlp", "width": 16}).width == 16
    assert make_config({"dataset": "mnist1d", "width": "null"}).width is None


@pytest.mark.parametrize(
    "values,message",
    [
        (
            {"model": "cnn", "width": 64},
            "config field 'width': value 64 is not allowed; model 'cnn' has no width; allowed: "
            "null (the model's default), or an integer >= 1 with model 'cnn1d' or 'mlp'",
        ),
        ({"dataset": "cifar10", "width": 64}, "model 'resnet18' has no width"),
        ({"model": "mlp", "width": 0}, "config field 'width': value 0 is not allowed; allowed: "),
        ({"model": "mlp", "width": -8}, "allowed: null or integer >= 1"),
        ({"model": "mlp", "width": 2.5}, "config field 'width': value 2.5 is not allowed"),
        ({"model": "mlp", "width": "wide"}, "expected int or null"),
    ],
)
def test_bad_width_names_field_value_and_allowed(values, message) -> None:
    with pytest.raises(ConfigError) as err:
        make_config(values)
    assert message in str(err.value)


def test_null_width_leaves_run_identity_unchanged() -> None:
    """Runs recorded before the field existed keep their identity; a set width changes it."""
    cfg = make_config({"dataset": "mnist1d"}).to_dict()
    assert "width" not in run_identity(cfg)
    assert run_identity({**cfg, "width": 64})["width"] == 64


def test_trains_and_exports_at_a_set_width(digits, tmp_path) -> None:
    cfg = make_config({"model": "mlp", "width": 24, "epochs": 1, "eval_samples": 2})
    trainer = Trainer(cfg, digits)
    widths = [m.out_features for m in trainer.model.modules() if hasattr(m, "out_features")]
    assert widths == [24, 24, 10]
    trainer.fit()
    d = trainer.data
    export_model(trainer.model, cfg, d.input_shape, d.num_classes, tmp_path / "model.pt")
    model, loaded = load_exported(tmp_path / "model.pt")
    assert loaded.width == 24
    x = d.test_x
    assert torch.equal(predict(model, x, "mean"), predict(trainer.model, x, "mean"))
