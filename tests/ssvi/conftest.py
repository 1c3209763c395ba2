from pathlib import Path

import pytest
import torch

from ssvi.config import make_config
from ssvi.data import load_dataset
from ssvi.train import Trainer


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits", val_fraction=0.1, seed=0)


@pytest.fixture(scope="session")
def mnist1d_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data_dir holding the generated MNIST-1D cache: generating takes seconds, so once."""
    path = tmp_path_factory.mktemp("data")
    load_dataset("mnist1d", data_dir=path)
    return path


@pytest.fixture(scope="session")
def short_ssvi(digits) -> Trainer:
    """A digits SSVI run (density 0.1) trained for 3 epochs, shared by read-only tests."""
    cfg = make_config({"epochs": 3, "eval_samples": 2, "update_interval": 5})
    trainer = Trainer(cfg, digits)
    trainer.result = trainer.fit()  # type: ignore[attr-defined]
    return trainer
