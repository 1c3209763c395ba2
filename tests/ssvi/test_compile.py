"""`compile: default`: the compiled training step computes what the eager one does, subspace
updates do not recompile it, and a compiled run learns the digits as well as an eager one."""

import pytest
import torch
import torch._dynamo

from ssvi.config import make_config
from ssvi.layers import BayesLinear, set_forward_mode
from ssvi.train import COMPLETED, Trainer


@pytest.mark.slow
def test_compiled_training_matches_eager_and_updates_do_not_recompile(digits) -> None:
    # mean-weight forward passes: no noise, so both runs must follow the same trajectory
    # (the local reparameterization's noise is checked against its closed form below)
    torch._dynamo.reset()
    cfg = {"epochs": 2, "eval_samples": 1, "update_interval": 5, "batch_size": 64}
    runs = []
    for options in (cfg, {**cfg, "compile": "default"}):
        trainer = Trainer(make_config(options), digits)
        set_forward_mode(trainer.model, "mean")
        runs.append((trainer, [trainer.train_epoch() for trainer.epoch in range(2)]))
    (eager, e_epochs), (compiled, c_epochs) = runs
    for e, c in zip(e_epochs, c_epochs, strict=True):
        for key in ("train_loss", "train_nll", "kl"):
            assert c[key] == pytest.approx(e[key], rel=1e-4), key
    assert compiled.subspace.num_updates == eager.subspace.num_updates == 6
    for a, b in zip(eager.subspace.layers, compiled.subspace.layers, strict=True):
        assert torch.equal(a.mask, b.mask)  # the same weights were exchanged
        torch.testing.assert_close(b.weight_mu, a.weight_mu, rtol=1e-3, atol=1e-4)
        assert not b.weight_mu[~b.mask].any()  # inactive weights stayed exactly zero
    # one graph for full batches and one for the short last batch, however many updates
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] <= 2


@pytest.mark.slow
def test_compiled_local_reparameterization_has_the_closed_form_moments() -> None:
    torch._dynamo.reset()
    torch.manual_seed(0)
    layer = BayesLinear(6, 3, prior_std=1.0)
    with torch.no_grad():
        layer.weight_mu.normal_()
        layer.weight_rho.uniform_(-1.0, 0.5)
    layer.set_mask(torch.rand(3, 6) < 0.5)
    x = torch.randn(6).expand(200_000, 6)  # one input, many independent draws
    out = torch.compile(layer)(x).detach().double()
    mask = layer.mask.double()
    mean = (layer.weight_mu.double() * mask) @ x[0].double() + layer.bias.double()
    var = (layer.sigma.double() ** 2 * mask) @ x[0].double() ** 2
    torch.testing.assert_close(
        out.mean(0), mean, rtol=0, atol=4 * (var / len(x)).sqrt().max().item()
    )
    torch.testing.assert_close(out.var(0), var, rtol=0.02, atol=1e-12)


@pytest.mark.slow
def test_compiled_run_reaches_digits_accuracy(digits) -> None:
    torch._dynamo.reset()
    result = Trainer(make_config({"compile": "default"}), digits).fit()
    assert result.status == COMPLETED
    assert result.metrics["test_accuracy"] >= 0.95  # the eager floor in test_train.py
