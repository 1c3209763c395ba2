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

KINDS = ["conv", "conv1d", "linear"]


def _layer(kind: str, masked: bool) -> ssvi.BayesLayer:
    torch.manual_seed(0)
    layer: ssvi.BayesLayer
    if kind == "conv":
        layer = ssvi.BayesConv2d(2, 3, 3, padding=1, prior_std=0.3).double()
    elif kind == "conv1d":  # stride and padding as in the cnn1d model
        layer = ssvi.BayesConv1d(2, 3, 3, stride=2, padding=1, prior_std=0.3).double()
    else:
        layer = ssvi.BayesLinear(5, 4, prior_std=0.3).double()
    ssvi.init_posterior_(layer, "normal", 0.5, 0.3, 0.1)
    if masked:
        layer.set_mask(torch.rand(layer.weight_mu.shape) < 0.5)
    return layer


def _input(kind: str) -> torch.Tensor:
    shape = {"conv": (2, 2, 4, 4), "conv1d": (2, 2, 7), "linear": (3, 5)}[kind]
    return torch.randn(*shape, dtype=torch.float64)


def _closed_form(layer: ssvi.BayesLayer, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of the layer's output under q, written out per output entry over its
    receptive field (im2col), without the layer's own operation: mean = sum_j x_j mu_j + b and
    var = sum_j x_j^2 sigma_j^2 over the active weights j."""
    mask = torch.ones_like(layer.weight_mu) if layer.mask is None else layer.mask.double()
    mu, var_w = (layer.weight_mu * mask).flatten(1), ((layer.sigma * mask) ** 2).flatten(1)
    if isinstance(layer, ssvi.BayesLinear):
        cols = x.unsqueeze(-1)  # [N, fan_in, 1 position]
    elif isinstance(layer, ssvi.BayesConv1d):
        assert layer.dilation == (1,) and layer.groups == 1
        (k,), (s,), (p,) = layer.kernel_size, layer.stride, layer.padding
        # windows [N, C, L_out, k] -> [N, C * k, L_out], in the order of the weight's (C, k)
        cols = F.pad(x, (p, p)).unfold(-1, k, s).permute(0, 1, 3, 2).flatten(1, 2)
    else:
        assert isinstance(layer, ssvi.BayesConv2d) and layer.groups == 1
        cols = F.unfold(x, layer.kernel_size, layer.dilation, layer.padding, layer.stride)
    mean = torch.einsum("of,nfl->nol", mu, cols)
    if layer.bias is not None:
        mean = mean + layer.bias.view(1, -1, 1)
    var = torch.einsum("of,nfl->nol", var_w, cols * cols)
    with torch.no_grad(), ssvi.forward_mode(layer, "mean"):
        shape = layer(x).shape
    return mean.reshape(shape), var.reshape(shape)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("masked", [False, True])
def test_lrt_matches_weight_sampling(kind: str, masked: bool) -> None:
    layer = _layer(kind, masked)
    x = _input(kind)
    n = 8_000
    xs = x.repeat(n, *([1] * (x.dim() - 1)))
    with torch.no_grad():
        mean, var = _closed_form(layer, x)
        layer.mode = ssvi.ForwardMode.LRT
        lrt = layer(xs).view(n, *mean.shape)
        # weight sampling: one weight draw per forward pass
        layer.mode = ssvi.ForwardMode.SAMPLE
        samp = torch.stack([layer(x) for _ in range(n)])
        layer.mode = ssvi.ForwardMode.MEAN
        torch.testing.assert_close(layer(x), mean, rtol=1e-12, atol=1e-12)
    sd = var.sqrt()
    for out in (lrt, samp):
        # mean within 5 standard errors, variance within 8% (n = 8000)
        assert ((out.mean(0) - mean).abs() <= 5 * sd / n**0.5 + 1e-12).all()
        assert torch.allclose(out.var(0), var, rtol=0.08)


@pytest.mark.parametrize("kind", ["conv", "conv1d"])
def test_mean_mode_is_deterministic_masked_op(kind: str) -> None:
    layer = _layer(kind, masked=True)
    x = _input(kind)
    with ssvi.forward_mode(layer, "mean"):
        out = layer(x)
        assert torch.equal(out, layer(x))
    assert layer.mode == ssvi.ForwardMode.LRT  # restored
    w = layer.weight_mu * layer.mask
    if kind == "conv":
        expected = F.conv2d(x, w, layer.bias, padding=1)
    else:
        expected = F.conv1d(x, w, layer.bias, stride=2, padding=1)
    assert torch.allclose(out, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_sample_mode_draws_one_weight_per_forward(kind: str) -> None:
    # every example of a batch sees the same weight draw; LRT draws noise per output entry
    layer = _layer(kind, masked=True)
    x = _input(kind)[:1].repeat(4, *([1] * (_input(kind).dim() - 1)))
    with torch.no_grad():
        with ssvi.forward_mode(layer, "sample"):
            a, b = layer(x), layer(x)
        lrt = layer(x)

    def same_rows(out: torch.Tensor) -> bool:  # up to rounding: rows may take other kernels
        return torch.allclose(out, out[:1].expand_as(out), rtol=1e-12, atol=1e-12)

    assert same_rows(a) and same_rows(b) and not torch.allclose(a, b)
    assert not same_rows(lrt)


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


def test_convert_cnn1d_copies_biases_and_keeps_shapes() -> None:
    torch.manual_seed(0)
    model = ssvi.create_model("cnn1d", (1, 1, 40), 10)
    originals = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    assert [type(m) for m in originals] == [nn.Conv1d] * 3 + [nn.Linear]
    x = torch.randn(3, 1, 1, 40)
    ssvi.convert_to_bayesian(model, prior_std=0.1, mu_init="kaiming", init_sigma=1e-3)
    layers = ssvi.bayes_layers(model)
    assert [type(m) for m in layers] == [ssvi.BayesConv1d] * 3 + [ssvi.BayesLinear]
    assert not any(isinstance(m, (nn.Conv1d, nn.Linear)) for m in model.modules())
    for old, new in zip(originals, layers, strict=True):
        assert new.weight_mu.shape == old.weight.shape
        assert new.bias is not None and torch.equal(new.bias.detach(), old.bias.detach())
        if isinstance(old, nn.Conv1d):
            assert isinstance(new, ssvi.BayesConv1d)
            assert (new.kernel_size, new.stride, new.padding) == (
                old.kernel_size, old.stride, old.padding,
            )  # fmt: skip
    ssvi.set_forward_mode(model, "mean")
    out = model(x)
    assert out.shape == (3, 10) and torch.equal(out, model(x))
    ssvi.set_forward_mode(model, "sample")
    assert not torch.equal(model(x), model(x))
    with pytest.raises(ValueError, match="only zero padding"):
        ssvi.convert_to_bayesian(nn.Sequential(nn.Conv1d(1, 2, 3, padding_mode="circular")))
