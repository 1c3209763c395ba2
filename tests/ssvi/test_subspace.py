"""Sparse subspace: allocation, drop schedule, update rule and the invariants of rigl-torch."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ssvi
from ssvi.density import erk_densities, uniform_densities


def small_net() -> nn.Module:
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * 8 * 8, 32), nn.ReLU(), nn.Linear(32, 10),
    )  # fmt: skip
    return ssvi.convert_to_bayesian(net, prior_std=0.1, mu_init="kaiming", init_sigma=1e-3)


def test_uniform_first_layer_dense_and_exact_counts() -> None:
    torch.manual_seed(0)
    model = small_net()
    sub = ssvi.SparseSubspace(model, 0.1, "uniform")
    layers = ssvi.bayes_layers(model)
    assert layers[0].mask is None
    assert sub.layers == layers[1:]
    for layer in layers[1:]:
        assert layer.num_active == round(0.1 * layer.weight_mu.numel())
        assert (layer.weight_mu[~layer.mask] == 0).all()


def test_erk_meets_budget_and_caps_at_one() -> None:
    shapes = [(16, 3, 3, 3), (32, 16, 3, 3), (64, 32, 3, 3), (10, 64)]
    for density in (0.05, 0.1, 0.3, 0.8):
        d = erk_densities(shapes, density)
        sizes = [math.prod(s) for s in shapes]
        active = sum(di * n for di, n in zip(d, sizes, strict=True))
        assert active == pytest.approx(density * sum(sizes))
        assert all(0 < di <= 1 for di in d)
        # non-dense layers keep ERK proportions: density / (sum dims / prod dims) is constant
        ratios = [di / (sum(s) / math.prod(s)) for di, s in zip(d, shapes, strict=True) if di < 1]
        assert max(ratios) == pytest.approx(min(ratios))
    assert erk_densities(shapes, 0.1)[3] == 1.0  # the small last layer saturates
    assert erk_densities(shapes, 0.2)[0] == 1.0
    assert uniform_densities(shapes, 0.2) == [1.0, 0.2, 0.2, 0.2]


def test_drop_schedule_values() -> None:
    s = ssvi.CosineDropSchedule(alpha=0.3, update_interval=100, t_end=750)
    assert s.drop_fraction(0) == pytest.approx(0.3)
    assert s.drop_fraction(375) == pytest.approx(0.15)
    assert s.drop_fraction(750) == pytest.approx(0.0, abs=1e-12)
    assert [t for t in range(1000) if s.is_update_step(t)] == [100, 200, 300, 400, 500, 600, 700]
    assert s.steps_to_next_update(95) == 5 and s.steps_to_next_update(100) == 0
    assert s.steps_to_next_update(701) is None


@pytest.mark.parametrize("rule", ["mean", "mean_rho"])
def test_update_rule_exact(rule: str) -> None:
    layer = ssvi.BayesLinear(4, 2, prior_std=1.0)
    model = nn.Sequential(nn.Linear(4, 4), layer)
    model[0] = ssvi.BayesLinear(4, 4)  # first layer: dense under `uniform`
    sub = ssvi.SparseSubspace(
        model, 0.5, "uniform", removal="mean", addition="grad", new_sigma=rule
    )
    with torch.no_grad():
        layer.mask = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0]], dtype=torch.bool)
        layer.weight_mu.copy_(torch.tensor([[0.5, -0.1, 0, 0], [2.0, 0.3, 0, 0]]))
        sig = torch.tensor([[0.1, 0.2, 0.9, 0.9], [0.3, 0.4, 0.9, 0.9]])
        layer.weight_rho.copy_(ssvi.layers.rho_from_sigma(sig, layer.sigma_param))
    layer.dense_grad = torch.tensor([[0.0, 0.0, -5.0, 1.0], [0.0, 0.0, 0.2, 3.0]])
    layer.dense_grad_count = 1
    sub.update(0.5)  # floor(0.5 * 4) = 2 exchanged
    expected = torch.tensor([[1, 0, 1, 0], [1, 0, 0, 1]], dtype=torch.bool)
    assert torch.equal(layer.mask, expected)
    mu = layer.weight_mu.detach()
    assert mu[0, 2] == 0 and mu[1, 3] == 0 and mu[0, 1] == 0 and mu[1, 1] == 0
    assert mu[0, 0] == 0.5 and mu[1, 0] == 2.0
    # surviving active weights have sigma 0.1 and 0.3: `mean` gives them their mean sigma, the
    # reference code's `mean_rho` softplus of their mean rho (softplus^-1 written out by hand)
    rho = [math.log(math.expm1(v)) for v in (0.1, 0.3)]
    expected_sigma = 0.2 if rule == "mean" else math.log1p(math.exp(sum(rho) / 2))
    assert expected_sigma != pytest.approx(0.2, rel=0.01) or rule == "mean"
    assert layer.sigma[0, 2].item() == pytest.approx(expected_sigma, rel=1e-5)
    assert layer.sigma[1, 3].item() == pytest.approx(expected_sigma, rel=1e-5)


def _digits_like(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (n,), generator=gen)
    x = torch.randn(n, 1, 8, 8, generator=gen) + y.view(-1, 1, 1, 1).float() / 5
    return x, y


def _check_invariants(
    sub: ssvi.SparseSubspace, opt: torch.optim.Optimizer, counts: list[int]
) -> None:
    assert sub.active_counts() == counts
    for layer in sub.layers:
        inactive = ~layer.mask
        assert (layer.weight_mu[inactive] == 0).all()
        for p in (layer.weight_mu, layer.weight_rho):
            for v in opt.state.get(p, {}).values():
                if isinstance(v, torch.Tensor) and v.shape == p.shape:
                    assert (v[inactive] == 0).all()


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
@pytest.mark.parametrize("distribution", ["uniform", "erk"])
@pytest.mark.parametrize("addition", ["grad", "random"])
def test_invariants_through_training(opt_name: str, distribution: str, addition: str) -> None:
    torch.manual_seed(0)
    model = small_net()
    sched = ssvi.CosineDropSchedule(alpha=0.3, update_interval=5, t_end=45)
    sub = ssvi.SparseSubspace(
        model, 0.2, distribution, sched, "snr_abs", addition, grow_accumulation=2, seed=0
    )
    counts = sub.active_counts()
    masks0 = [layer.mask.clone() for layer in sub.layers]
    mu = [p for n, p in model.named_parameters() if not n.endswith("rho")]
    rho = [p for n, p in model.named_parameters() if n.endswith("rho")]
    opt: torch.optim.Optimizer
    if opt_name == "sgd":
        opt = torch.optim.SGD(
            [{"params": mu, "weight_decay": 5e-4}, {"params": rho}], lr=0.05, momentum=0.9
        )
    else:
        opt = torch.optim.Adam([{"params": mu, "weight_decay": 5e-4}, {"params": rho}], lr=1e-3)
    x, y = _digits_like()
    updates = 0
    for step in range(50):
        idx = torch.arange(step * 32, step * 32 + 32) % len(x)
        sub.before_step(step)
        loss = F.cross_entropy(model(x[idx]), y[idx]) + 1e-3 * ssvi.kl_divergence(model)
        opt.zero_grad()
        loss.backward()
        for layer in sub.layers:
            assert (layer.weight_mu.grad[~layer.mask] == 0).all()
            assert (layer.weight_rho.grad[~layer.mask] == 0).all()
        if sub.maybe_update(step + 1, opt):
            updates += 1
        else:
            opt.step()
        _check_invariants(sub, opt, counts)
    assert updates == 8 == sub.num_updates
    pairs = zip(masks0, sub.layers, strict=True)
    changed = sum(int((m0 != layer.mask).sum()) for m0, layer in pairs)
    assert changed > 0


def test_exchanged_count_is_floor_of_drop_fraction() -> None:
    torch.manual_seed(0)
    model = small_net()
    sub = ssvi.SparseSubspace(model, 0.1, "uniform", removal="snr", addition="random", seed=3)
    before = [layer.mask.clone() for layer in sub.layers]
    sub.update(0.25)
    for m0, layer in zip(before, sub.layers, strict=True):
        removed = int((m0 & ~layer.mask).sum())
        assert removed == math.floor(0.25 * int(m0.sum()))
        assert int((~m0 & layer.mask).sum()) == removed


def test_deterministic_for_a_seed() -> None:
    def masks(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = small_net()
        sub = ssvi.SparseSubspace(model, 0.1, "erk", addition="random", seed=seed)
        sub.update(0.3)
        return [layer.mask for layer in sub.layers]

    assert all(torch.equal(a, b) for a, b in zip(masks(5), masks(5), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(masks(5), masks(6), strict=True))


def test_density_one_is_dense_vi() -> None:
    model = small_net()
    sched = ssvi.CosineDropSchedule(0.3, 1, 100)
    sub = ssvi.SparseSubspace(model, 1.0, "erk", sched)
    assert sub.is_dense and all(layer.mask is None for layer in ssvi.bayes_layers(model))
    assert not sub.maybe_update(1)


def test_bad_arguments_name_allowed_values() -> None:
    model = small_net()
    with pytest.raises(ValueError, match=r"density must be in \(0, 1\]"):
        ssvi.SparseSubspace(model, 1.5)
    with pytest.raises(ValueError, match=r"density must be in \(0, 1\]"):
        ssvi.SparseSubspace(model, 0.0)
    with pytest.raises(ValueError, match="'uniform', 'erk'"):
        ssvi.SparseSubspace(model, 0.1, "random")
    with pytest.raises(ValueError, match="'grad', 'random'"):
        ssvi.SparseSubspace(model, 0.1, addition="magnitude")
    with pytest.raises(ValueError, match="'snr_abs'"):
        ssvi.SparseSubspace(model, 0.1, removal="abs")


@pytest.mark.parametrize("distribution", ["uniform", "erk"])
def test_cnn1d_masks_follow_the_distribution_and_survive_updates(distribution: str) -> None:
    torch.manual_seed(0)
    model = ssvi.convert_to_bayesian(
        ssvi.create_model("cnn1d", (1, 1, 40), 10), prior_std=0.1, mu_init="kaiming"
    )
    layers = ssvi.bayes_layers(model)
    sizes = [layer.weight_mu.numel() for layer in layers]
    densities = (erk_densities if distribution == "erk" else uniform_densities)(
        [tuple(layer.weight_mu.shape) for layer in layers], 0.1
    )
    sched = ssvi.CosineDropSchedule(alpha=0.3, update_interval=2, t_end=8)
    sub = ssvi.SparseSubspace(model, 0.1, distribution, sched, "snr_abs", "grad")
    for layer, d, n in zip(layers, densities, sizes, strict=True):
        if d >= 1.0:
            assert layer.mask is None
        else:
            assert layer in sub.layers and layer.num_active == round(d * n)
            assert (layer.weight_mu[~layer.mask] == 0).all()
    if distribution == "uniform":
        assert densities == [1.0, 0.1, 0.1, 0.1]
    else:
        active = sum(layer.num_active for layer in layers)
        assert active == pytest.approx(0.1 * sum(sizes), abs=len(layers))
    counts = sub.active_counts()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 1, 1, 40, generator=gen), torch.randint(0, 10, (32,), generator=gen)
    masks0 = [layer.mask.clone() for layer in sub.layers]
    for step in range(8):
        sub.before_step(step)
        loss = F.cross_entropy(model(x), y) + 1e-3 * ssvi.kl_divergence(model)
        opt.zero_grad()
        loss.backward()
        if not sub.maybe_update(step + 1, opt):
            opt.step()
        _check_invariants(sub, opt, counts)
    assert sub.num_updates == 3
    pairs = zip(masks0, sub.layers, strict=True)
    assert any(not torch.equal(m0, layer.mask) for m0, layer in pairs)
