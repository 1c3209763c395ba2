"""Mean-field Gaussian Bayesian layers with an optional sparse-subspace mask.

Each weight has the posterior q(theta) = N(mu, sigma^2) with sigma = softplus(rho) (or exp(rho)) and
the prior N(0, prior_std^2). Biases stay deterministic. A layer may carry a boolean ``mask``:
inactive weights are exactly zero (their mu is kept at 0, they add no variance and no KL, and their
gradients are zero because the forward pass multiplies by the mask).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssvi.enums import ForwardMode, MuInit, SigmaParam

# Added to the pre-activation variance before the square root: keeps the gradient of sqrt finite.
LRT_VARIANCE_EPS = 1e-16
NHWC = torch.channels_last
# Smallest sigma produced by the initialisation (|N(mean, spread^2)| can come out at ~0).
MIN_INIT_SIGMA = 1e-8


def sigma_from_rho(rho: Tensor, param: SigmaParam) -> Tensor:
    """sigma = softplus(rho) or exp(rho)."""
    return F.softplus(rho) if param == SigmaParam.SOFTPLUS else torch.exp(rho)


def rho_from_sigma(sigma: Tensor, param: SigmaParam) -> Tensor:
    """Inverse of :func:`sigma_from_rho`; softplus^-1(s) = s + log(-expm1(-s)) is stable."""
    if param == SigmaParam.SOFTPLUS:
        return sigma + torch.log(-torch.expm1(-sigma))
    return torch.log(sigma)


def gaussian_kl(mu: Tensor, sigma: Tensor, prior_std: float) -> Tensor:
    """Elementwise KL(N(mu, sigma^2) || N(0, prior_std^2)) in closed form."""
    var_ratio = (sigma / prior_std) ** 2
    return 0.5 * (var_ratio + (mu / prior_std) ** 2 - 1.0 - torch.log(var_ratio))


def gaussian_kl_sum(mu: Tensor, sigma: Tensor, prior_std: float) -> Tensor:
    """Sum of :func:`gaussian_kl` over the n entries of ``sigma``, in fewer passes over the weights:
    (sum(sigma^2) + sum(mu^2)) / (2 prior_std^2) - sum(log sigma) + n (log prior_std - 1/2).

    ``mu`` may hold extra entries that are zero (masked inactive weights): they add nothing."""
    squares = sigma.square().sum() + mu.square().sum()
    const = sigma.numel() * (math.log(prior_std) - 0.5)
    return squares * (0.5 / prior_std**2) - torch.log(sigma).sum() + const


class BayesLayer(nn.Module):
    """Shared machinery of :class:`BayesLinear`, :class:`BayesConv1d` and :class:`BayesConv2d`."""

    weight_mu: nn.Parameter
    weight_rho: nn.Parameter
    bias: nn.Parameter | None
    mask: Tensor | None

    def _init_bayes(
        self,
        weight_shape: tuple[int, ...],
        bias: bool,
        prior_std: float,
        sigma_param: SigmaParam | str,
    ) -> None:
        self.weight_mu = nn.Parameter(torch.zeros(weight_shape))
        self.weight_rho = nn.Parameter(torch.zeros(weight_shape))
        self.bias = nn.Parameter(torch.zeros(weight_shape[0])) if bias else None
        self.register_buffer("mask", None)
        self.prior_std = float(prior_std)
        self.sigma_param = SigmaParam.parse(sigma_param, "sigma parameterization")
        self.mode = ForwardMode.LRT
        # Dense-gradient capture for the `grad` addition criterion (see capture_dense_grad).
        self.capture_grad = False
        self.dense_grad: Tensor | None = None
        self.dense_grad_count = 0
        init_posterior_(self)

    # --- the operation the layer applies with a given weight -----------------------------------
    def _op(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        raise NotImplementedError

    @property
    def fan_in(self) -> int:
        return self.weight_mu[0].numel()

    @property
    def weight(self) -> Tensor:
        """The mean weight with inactive entries zero (what ``mean`` mode uses)."""
        return self._masked(self.weight_mu)

    @property
    def sigma(self) -> Tensor:
        return sigma_from_rho(self.weight_rho, self.sigma_param)

    @property
    def density(self) -> float:
        return 1.0 if self.mask is None else float(self.mask.float().mean())

    @property
    def num_active(self) -> int:
        return self.weight_mu.numel() if self.mask is None else int(self.mask.sum())

    def set_mask(self, mask: Tensor | None) -> None:
        """Install a boolean mask (None = dense) and zero the mean of inactive weights."""
        if mask is None:
            self.mask = None
            return
        if mask.shape != self.weight_mu.shape:
            raise ValueError(
                f"mask shape {tuple(mask.shape)} != weight shape {tuple(self.weight_mu.shape)}"
            )
        self.mask = mask.to(device=self.weight_mu.device, dtype=torch.bool)
        with torch.no_grad():
            self.weight_mu.mul_(self.mask)

    def _flat(self, t: Tensor) -> Tensor:
        """``t`` flattened in the order the weights lie in memory, so that flattening a weight
        is a view: NCHW, or N, H, W, C for channels_last convolution weights."""
        w = self.weight_mu
        if w.dim() == 4 and not w.is_contiguous() and w.is_contiguous(memory_format=NHWC):
            return t.permute(0, 2, 3, 1).reshape(-1)
        return t.reshape(-1)

    def _mask_forms(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """The mask as ``dtype`` and the indices of the active weights in :meth:`_flat` order,
        recomputed only when the mask or the weights' layout changes: converting the bool mask on
        every pass is measurable on small models."""
        assert self.mask is not None
        key = (self.mask._version, dtype, self.weight_mu.stride())
        cached = getattr(self, "_mask_cache", None)  # (source mask, key, forms)
        if cached is None or cached[0] is not self.mask or cached[1] != key:
            forms = (self.mask.to(dtype), self._flat(self.mask).nonzero().squeeze(1))
            cached = (self.mask, key, forms)
            self._mask_cache = cached
        return cached[2]

    def _masked(self, t: Tensor) -> Tensor:
        if self.mask is None:
            return t
        if torch.compiler.is_compiling():  # the compiler fuses the conversion into the multiply
            return t * self.mask.to(t.dtype)
        return t * self._mask_forms(t.dtype)[0]

    def _mean_weight(self) -> Tensor:
        mu = self._masked(self.weight_mu)
        if self.capture_grad and mu.requires_grad:
            mu.register_hook(self._accumulate_grad)
        return mu

    def _accumulate_grad(self, grad: Tensor) -> None:
        g = grad.detach().float()
        self.dense_grad = g.clone() if self.dense_grad is None else self.dense_grad.add_(g)
        self.dense_grad_count += 1

    def kl(self) -> Tensor:
        """KL(q || prior) summed over the active weights."""
        if self.mask is None:
            return gaussian_kl_sum(self.weight_mu, self.sigma, self.prior_std)
        if torch.compiler.is_compiling():  # no data-dependent shapes in a compiled graph
            kl = gaussian_kl(self.weight_mu, self.sigma, self.prior_std)
            return (kl * self.mask.to(kl.dtype)).sum()
        # sigma of the active weights only (density x the work of a masked sum); mu masked whole,
        # one multiply where a gather costs three operators with its backward. Masked, not read
        # raw: inactive mu stay zero only if every optimizer step is masked and its state zeroed
        active = self._mask_forms(self.weight_mu.dtype)[1]
        sigma = sigma_from_rho(self._flat(self.weight_rho)[active], self.sigma_param)
        return gaussian_kl_sum(self._masked(self.weight_mu), sigma, self.prior_std)

    def forward(self, x: Tensor) -> Tensor:
        mu = self._mean_weight()
        if self.mode == ForwardMode.MEAN:
            return self._op(x, mu, self.bias)
        sigma = self._masked(self.sigma)
        if self.mode == ForwardMode.SAMPLE:
            return self._op(x, mu + sigma * torch.randn_like(sigma), self.bias)
        mean = self._op(x, mu, self.bias)
        var = self._op(x * x, sigma * sigma, None)
        return mean + torch.sqrt(var + LRT_VARIANCE_EPS) * torch.randn_like(mean)

    def extra_repr(self) -> str:
        return (
            f"{tuple(self.weight_mu.shape)}, prior_std={self.prior_std}, "
            f"sigma={self.sigma_param.value}, "
            f"mode={self.mode.value}, density={self.density:.3g}"
        )


class BayesLinear(BayesLayer):
    """``nn.Linear`` with a mean-field Gaussian weight posterior (see module docstring)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        prior_std: float = 0.005,
        sigma_param: SigmaParam | str = SigmaParam.SOFTPLUS,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._init_bayes((out_features, in_features), bias, prior_std, sigma_param)

    def _op(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        return F.linear(x, weight, bias)


class _BayesConv(BayesLayer):
    """``nn.ConvNd`` with a mean-field Gaussian weight posterior (see module docstring); weights
    ``[out_channels, in_channels / groups, *kernel]``. Subclasses set the dimension."""

    _tuple: Callable[[Any], tuple[int, ...]]  # int or tuple -> one entry per dimension
    _conv: Callable[..., Tensor]  # F.conv1d / F.conv2d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        prior_std: float = 0.005,
        sigma_param: SigmaParam | str = SigmaParam.SOFTPLUS,
    ) -> None:
        super().__init__()
        nd = type(self)._tuple
        k = nd(kernel_size)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride = nd(stride)
        self.padding: str | tuple[int, ...] = padding if isinstance(padding, str) else nd(padding)
        self.dilation = nd(dilation)
        self.groups = groups
        shape = (out_channels, in_channels // groups, *k)
        self._init_bayes(shape, bias, prior_std, sigma_param)

    def _op(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        conv = type(self)._conv
        return conv(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)


class BayesConv1d(_BayesConv):
    """``nn.Conv1d`` with a mean-field Gaussian weight posterior: inputs ``[N, C, L]``."""

    _tuple = staticmethod(nn.modules.utils._single)
    _conv = staticmethod(F.conv1d)


class BayesConv2d(_BayesConv):
    """``nn.Conv2d`` with a mean-field Gaussian weight posterior (see module docstring)."""

    _tuple = staticmethod(nn.modules.utils._pair)
    _conv = staticmethod(F.conv2d)


def bayes_layers(model: nn.Module) -> list[BayesLayer]:
    """The Bayesian layers of ``model`` in module order."""
    return [m for m in model.modules() if isinstance(m, BayesLayer)]


def kl_divergence(model: nn.Module) -> Tensor:
    """Sum of KL(q || prior) over the active weights of every Bayesian layer of ``model``."""
    layers = bayes_layers(model)
    if not layers:
        raise ValueError("the model has no Bayesian layers")
    return torch.stack([layer.kl() for layer in layers]).sum()


def set_forward_mode(model: nn.Module, mode: ForwardMode | str) -> None:
    """Switch every Bayesian layer of ``model`` to ``lrt``, ``sample`` or ``mean``."""
    parsed = ForwardMode.parse(mode, "forward mode")
    for layer in bayes_layers(model):
        layer.mode = parsed


@contextmanager
def forward_mode(model: nn.Module, mode: ForwardMode | str) -> Iterator[None]:
    """Temporarily switch the forward mode of ``model``'s Bayesian layers."""
    layers = bayes_layers(model)
    previous = [layer.mode for layer in layers]
    set_forward_mode(model, mode)
    try:
        yield
    finally:
        for layer, m in zip(layers, previous, strict=True):
            layer.mode = m


@torch.no_grad()
def init_posterior_(
    module: nn.Module,
    mu_init: MuInit | str = MuInit.NORMAL,
    init_mu_std: float = 0.01,
    init_sigma: float = 6e-4,
    init_sigma_spread: float = 5e-4,
    generator: torch.Generator | None = None,
) -> None:
    """(Re)initialise the posterior of every Bayesian layer in ``module``.

    mu ~ N(0, init_mu_std^2) (``normal``, the reference) or N(0, 2 / active fan-in) (``kaiming``:
    the fan-in counts only active weights, so a sparse layer is not under-scaled by its density);
    sigma ~ |N(init_sigma, init_sigma_spread^2)| (as the reference), floored at 1e-8. ``copy``
    keeps the current mu (set by :func:`convert_to_bayesian` from the original layer's weights).
    """
    mu_init = MuInit.parse(mu_init, "mu initialisation")
    layers = [module] if isinstance(module, BayesLayer) else bayes_layers(module)
    for layer in layers:
        w = layer.weight_mu
        if mu_init != MuInit.COPY:
            if mu_init == MuInit.NORMAL:
                std = init_mu_std
            else:
                active_fan_in = layer.num_active / w.shape[0]
                std = math.sqrt(2.0 / max(active_fan_in, 1.0))
            w.copy_(torch.randn(w.shape, generator=generator, dtype=w.dtype) * std)
        sigma = torch.randn(w.shape, generator=generator, dtype=w.dtype) * init_sigma_spread
        sigma = (sigma + init_sigma).abs().clamp_min(MIN_INIT_SIGMA)
        layer.weight_rho.copy_(rho_from_sigma(sigma, layer.sigma_param))
        if layer.mask is not None:
            w.mul_(layer.mask)


def convert_to_bayesian(
    model: nn.Module,
    prior_std: float = 0.005,
    sigma_param: SigmaParam | str = SigmaParam.SOFTPLUS,
    mu_init: MuInit | str = MuInit.NORMAL,
    init_mu_std: float = 0.01,
    init_sigma: float = 6e-4,
    init_sigma_spread: float = 5e-4,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Replace every ``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d`` of ``model`` (in place) by a
    Bayesian layer.

    Biases are copied from the original layer and stay deterministic; BatchNorm and other modules
    are untouched. Returns ``model``.
    """
    for name, child in list(model.named_children()):
        new: BayesLayer | None = None
        weight: Tensor | None = None
        if isinstance(child, (nn.Conv1d, nn.Conv2d)):
            weight = child.weight
            if child.padding_mode != "zeros":
                raise ValueError(f"layer {name}: only zero padding is supported")
            conv = BayesConv1d if isinstance(child, nn.Conv1d) else BayesConv2d
            new = conv(
                child.in_channels, child.out_channels, child.kernel_size, child.stride,
                child.padding, child.dilation, child.groups, child.bias is not None,
                prior_std, sigma_param,
            )  # fmt: skip
        elif isinstance(child, nn.Linear):
            weight = child.weight
            new = BayesLinear(
                child.in_features,
                child.out_features,
                child.bias is not None,
                prior_std,
                sigma_param,
            )
        if new is None or weight is None:
            convert_to_bayesian(
                child, prior_std, sigma_param, mu_init, init_mu_std, init_sigma,
                init_sigma_spread, generator,
            )  # fmt: skip
            continue
        new = new.to(device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            new.weight_mu.copy_(weight)  # kept by mu_init="copy", redrawn otherwise
        bias = getattr(child, "bias", None)
        if isinstance(bias, Tensor) and new.bias is not None:
            with torch.no_grad():
                new.bias.copy_(bias)
        init_posterior_(new, mu_init, init_mu_std, init_sigma, init_sigma_spread, generator)
        setattr(model, name, new)
    return model
