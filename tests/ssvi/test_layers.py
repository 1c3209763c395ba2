"""Bayesian layers: LRT against weight sampling, KL against torch.distributions, conversion."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal
from torch.distributions import kl_divergence as td_kl

import ssvi
from ssvi.layers import rho_from_sigma, sigma_from_rho


def _layer(kind: str, masked: bool) -> ssvi.BayesLayer:
    torch.manual_seed(0)
    layer: ssvi.BayesLayer
    if kind == "conv":
        layer = ssvi.BayesConv2d(2, 3, 3, padding=1, prior_std=0.3).double()
    else:
        layer = ssvi.BayesLinear(5, 4, prior_std=0.3).double()
    ssvi.init_posterior_(layer, "normal", 0.5, 0.3, 0.1)
    if masked:
        layer.set_mask(torch.rand(layer.weight_mu.shape) < 0.5)
    return layer


@pytest.mark.parametrize("kind", ["conv", "linear"])
@pytest.mark.parametrize("masked", [False, True])
def test_lrt_matches_weight_sampling(kind: str, masked: bool) -> None:
    layer = _layer(kind, masked)
    x = (
        torch.randn(2, 2, 4, 4, dtype=torch.float64)
        if kind == "conv"
        else torch.randn(3, 5).double()
    )
    n = 8_000
    xs = x.repeat(n, *([1] * (x.dim() - 1)))
    with torch.no_grad():
        layer.mode = ssvi.ForwardMode.LRT
        lrt = layer(xs).view(n, *layer(x).shape)
        # weight sampling: one weight draw per forward pass
        layer.mode = ssvi.ForwardMode.SAMPLE
        samp = torch.stack([layer(x) for _ in range(n)])
        layer.mode = ssvi.ForwardMode.MEAN
        mean = layer(x)
        w_mask = layer.mask if layer.mask is not None else torch.ones_like(layer.weight_mu)
        var = layer._op(x * x, (layer.sigma * w_mask) ** 2, None)
    sd = var.sqrt()
    for out in (lrt, samp):
        # mean within 5 standard errors, variance within 8% (n = 8000)
        assert ((out.mean(0) - mean).abs() <= 5 * sd / n**0.5 + 1e-12).all()
        assert torch.allclose(out.var(0), var, rtol=0.08)


def test_mean_mode_is_deterministic_masked_op() -> None:
    layer = _layer("conv", masked=True)
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64)
    with ssvi.forward_mode(layer, "mean"):
        out = layer(x)
    assert layer.mode == ssvi.ForwardMode.LRT  # restored
    assert torch.allclose(out, F.conv2d(x, layer.weight_mu * layer.mask, layer.bias, padding=1))


def test_kl_against_torch_distributions_active_only() -> None:
    layer = _layer("conv", masked=True)
    q = Normal(layer.weight_mu, layer.sigma)
    p = Normal(torch.zeros_like(layer.weight_mu), torch.full_like(layer.weight_mu, layer.prior_std))
    expected = (td_kl(q, p) * layer.mask).sum()
    assert torch.allclose(layer.kl(), expected)
    model = nn.Sequential(
        layer, nn.ReLU(), nn.Flatten(), ssvi.BayesLinear(3, 2, prior_std=1.0).double()
    )
    total = ssvi.kl_divergence(model)
    assert torch.allclose(total, expected + model[3].kl())


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("param", ["softplus", "exp"])
def test_kl_and_its_gradients_against_torch_distributions(masked: bool, param: str) -> None:
    layer = _layer("conv", masked)
    layer.sigma_param = ssvi.SigmaParam(param)
    mu = layer.weight_mu.detach().clone().requires_grad_()
    rho = layer.weight_rho.detach().clone().requires_grad_()
    q = Normal(mu, sigma_from_rho(rho, layer.sigma_param))
    p = Normal(torch.zeros_like(mu), torch.full_like(mu, layer.prior_std))
    mask = torch.ones_like(mu) if layer.mask is None else layer.mask.double()
    expected = (td_kl(q, p) * mask).sum()
    expected.backward()
    got = layer.kl()
    got.backward()
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(layer.weight_mu.grad, mu.grad, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(layer.weight_rho.grad, rho.grad, rtol=1e-12, atol=1e-15)


def test_kl_ignores_inactive_mu_even_when_nonzero() -> None:
    # inactive mu stay zero only if the optimizer's state of dropped weights is zeroed (an update
    # called without the optimizer leaves momentum that moves them); the KL must not count them
    layer = _layer("conv", masked=True)
    assert layer.mask is not None
    expected = layer.kl().detach()
    with torch.no_grad():
        layer.weight_mu[~layer.mask] = 0.3
    got = layer.kl()
    got.backward()
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    assert (layer.weight_mu.grad[~layer.mask] == 0).all()


def test_kl_of_a_channels_last_layer_reads_its_weights_in_place() -> None:
    ref = _layer("conv", masked=True)
    nhwc = copy.deepcopy(ref).to(memory_format=torch.channels_last)
    assert not nhwc.weight_mu.is_contiguous()
    assert nhwc._flat(nhwc.weight_mu).data_ptr() == nhwc.weight_mu.data_ptr()  # a view, no copy
    got, expected = nhwc.kl(), ref.kl()
    got.backward()
    expected.backward()
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(nhwc.weight_mu.grad, ref.weight_mu.grad, rtol=1e-12, atol=0)
    torch.testing.assert_close(nhwc.weight_rho.grad, ref.weight_rho.grad, rtol=1e-12, atol=0)


def test_inactive_weights_contribute_nothing() -> None:
    layer = _layer("linear", masked=True)
    assert layer.mask is not None
    with torch.no_grad():  # garbage in inactive rho must not matter
        layer.weight_rho[~layer.mask] = 5.0
    x = torch.randn(7, 5, dtype=torch.float64)
    loss = layer(x).pow(2).sum() + layer.kl()
    loss.backward()
    assert (layer.weight_mu[~layer.mask] == 0).all()
    assert (layer.weight_mu.grad[~layer.mask] == 0).all()
    assert (layer.weight_rho.grad[~layer.mask] == 0).all()


@pytest.mark.parametrize("param", ["softplus", "exp"])
def test_sigma_parameterization_roundtrip(param: str) -> None:
    sigma = torch.logspace(-8, 0, 50, dtype=torch.float64)
    p = ssvi.SigmaParam(param)
    assert torch.allclose(sigma_from_rho(rho_from_sigma(sigma, p), p), sigma, rtol=1e-10)


def test_convert_resnet18_and_switch_modes() -> None:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(num_classes=10)
    n_conv = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    bias_before = model.fc.bias.detach().clone()
    ssvi.convert_to_bayesian(
        model, prior_std=0.1, init_mu_std=0.01, init_sigma=6e-4, init_sigma_spread=5e-4
    )
    layers = ssvi.bayes_layers(model)
    assert len(layers) == n_conv + 1
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert torch.equal(model.fc.bias.detach(), bias_before)
    mu = torch.cat([m.weight_mu.detach().flatten() for m in layers])
    sig = torch.cat([m.sigma.detach().flatten() for m in layers])
    assert mu.std().item() == pytest.approx(0.01, rel=0.01)
    assert sig.mean().item() == pytest.approx(
        6e-4 + 0.0, rel=0.1
    )  # |N(6e-4, 5e-4^2)| mean ~ 6.5e-4
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    ssvi.set_forward_mode(model, "mean")
    assert torch.equal(model(x), model(x))
    ssvi.set_forward_mode(model, "sample")
    assert not torch.equal(model(x), model(x))
    with pytest.raises(ValueError, match="'lrt', 'sample', 'mean'"):
        ssvi.set_forward_mode(model, "map")


def test_kaiming_init_uses_active_fan_in() -> None:
    layer = ssvi.BayesLinear(1000, 200)
    layer.set_mask(torch.rand(200, 1000) < 0.1)
    ssvi.init_posterior_(layer, "kaiming")
    active = layer.weight_mu[layer.mask]
    fan_in = layer.mask.sum().item() / 200
    assert active.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.03)
    assert (layer.weight_mu[~layer.mask] == 0).all()


def test_state_dict_roundtrip_with_mask() -> None:
    a = _layer("conv", masked=True)
    b = ssvi.BayesConv2d(2, 3, 3, padding=1, prior_std=0.3).double()
    b.set_mask(torch.ones(3, 2, 3, 3, dtype=torch.bool))
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.mask, b.mask) and torch.equal(a.weight_mu, b.weight_mu)
