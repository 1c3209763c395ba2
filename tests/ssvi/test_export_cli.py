"""Compact export round trip and the `ssvi` command line."""

import json

import pytest
import torch
import yaml

from ssvi.cli import main
from ssvi.config import make_config
from ssvi.evaluate import predict
from ssvi.export import export_model, load_exported
from ssvi.train import Trainer


def test_export_round_trip_identical_predictions(short_ssvi, tmp_path) -> None:
    d = short_ssvi.data
    size = export_model(
        short_ssvi.model, short_ssvi.cfg, d.input_shape, d.num_classes, tmp_path / "model.pt"
    )
    model, cfg = load_exported(tmp_path / "model.pt")
    assert cfg == short_ssvi.cfg
    x = short_ssvi.data.test_x
    assert torch.equal(predict(model, x, "mean"), predict(short_ssvi.model, x, "mean"))
    torch.manual_seed(3)
    a = predict(model, x, "sample", 4)
    torch.manual_seed(3)
    b = predict(short_ssvi.model, x, "sample", 4)
    assert torch.equal(a, b)
    for mine, theirs in zip(
        model.state_dict().items(), short_ssvi.model.state_dict().items(), strict=True
    ):
        assert mine[0] == theirs[0]
    assert size == (tmp_path / "model.pt").stat().st_size


def test_sparse_file_at_least_5x_smaller_than_dense(short_ssvi, digits) -> None:
    dense = Trainer(make_config({"density": 1.0, "epochs": 1}), digits)
    ratio = len(dense.export_bytes()) / len(short_ssvi.export_bytes())
    assert ratio >= 5.0


def test_cli_train_export_eval(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text(yaml.safe_dump({"epochs": 2, "eval_samples": 2}))
    assert (
        main(
            [
                "train",
                "--config",
                str(cfg_file),
                "--set",
                "density=0.2",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    for name in ("config.yaml", "history.csv", "metrics.json", "checkpoint.pt"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs_completed"] == 2
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["density"] == 0.2 and saved["_git_rev"] and saved["_method"] == "ssvi"
    assert len((out / "history.csv").read_text().strip().splitlines()) == 3
    # the saved config re-runs the same training
    assert (
        main(
            [
                "train",
                "--config",
                str(out / "config.yaml"),
                "--out",
                str(tmp_path / "again"),
                "--quiet",
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["test_nll"] == metrics["test_nll"]
    assert main(["export", str(out / "checkpoint.pt"), "--out", str(tmp_path / "m.pt")]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "m.pt"), "--set", "eval_samples=2"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["test_accuracy_mean_weights"] == metrics["test_accuracy_mean_weights"]


def test_cli_resume_continues(tmp_path) -> None:
    out = tmp_path / "run"
    assert (
        main(
            ["train", "--set", "epochs=1", "--set", "eval_samples=1", "--out", str(out), "--quiet"]
        )
        == 0
    )
    assert (
        main(
            [
                "train",
                "--set",
                "epochs=2",
                "--set",
                "eval_samples=1",
                "--out",
                str(out),
                "--quiet",
                "--resume",
            ]
        )
        == 0
    )
    # the resumed run keeps its checkpoint's config, and config.yaml says so
    assert json.loads((out / "metrics.json").read_text())["epochs_completed"] == 1
    assert yaml.safe_load((out / "config.yaml").read_text())["epochs"] == 1


@pytest.mark.parametrize(
    "override,message",
    [
        ("lrate=0.1", "unknown config field(s) 'lrate'"),
        ("epochs=many", "config field 'epochs': value 'many' is not allowed; expected int"),
        ("density=2", "config field 'density': value 2.0 is not allowed"),
        (
            "removal=magnitude",
            "allowed: 'mean', 'snr', 'e_abs', 'snr_abs', 'e_exp_abs', 'snr_exp_abs'",
        ),
    ],
)
def test_cli_bad_config_one_clear_message(tmp_path, capsys, override: str, message: str) -> None:
    assert main(["train", "--set", override, "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()  # nothing started


def test_cli_help_documents_every_field(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for field in ("kl_weight", "update_interval", "removal", "eval_samples", "precision"):
        assert field in text


class _Payload:
    """A pickled object that creates a file when unpickled: what a malicious file would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("command", ["eval", "export", "resume"])
def test_files_that_could_run_code_are_refused(tmp_path, capsys, command: str) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / ("checkpoint.pt" if command == "resume" else "model.pt")
    torch.save({"format": "ssvi-compact-v1", "cfg": _Payload(str(marker))}, bad)
    argv = {
        "eval": ["eval", str(bad)],
        "export": ["export", str(bad), "--out", str(tmp_path / "m.pt")],
        "resume": ["train", "--out", str(tmp_path), "--resume", "--quiet"],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "loads safely" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()  # nothing ran


def test_eval_refuses_a_safe_file_that_is_not_a_model(tmp_path, capsys) -> None:
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("not a torch file")
    for name in ("other.pt", "text.pt", "missing.pt"):
        assert main(["eval", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert name in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_diverged_run_writes_strict_json_and_says_so(tmp_path, capsys) -> None:
    out = tmp_path / "div"
    argv = ["train", "--set", "lr=1e6", "--set", "epochs=2", "--set", "model=mlp"]
    assert main([*argv, "--set", "eval_samples=1", "--out", str(out), "--quiet"]) == 0
    text = (out / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    metrics = json.loads(text)  # the standard parser, strict
    assert metrics["status"] == "diverged" and metrics["train_loss"] is None
    assert metrics["last_finite_epoch"] == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("diverged in epoch 1") and "no finite state" in line


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--config", "BAD"], "is not valid YAML: expected ',' or ']'"),
        (["--out", "FILE"], "is a file; give a folder"),
    ],
)
def test_cli_bad_paths_one_clear_line(tmp_path, capsys, argv, message) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 2\nlr: [0.1\n")
    afile = tmp_path / "afile"
    afile.write_text("x")
    argv = [{"BAD": str(bad), "FILE": str(afile)}.get(a, a) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "run")]
    assert main(["train", *argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
