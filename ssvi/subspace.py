"""The sparse subspace of SSVI: which weights are active, and how the set changes in training.

Composed of swappable parts (as sparsimony): a density distribution (``uniform``/``erk``), a drop
schedule (:class:`CosineDropSchedule`), a removal criterion and an addition criterion. Density 1.0
gives dense mean-field VI: no masks and no updates.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ssvi.criteria import addition_score, removal_score
from ssvi.density import layer_densities
from ssvi.enums import AdditionCriterion, DensityDistribution, NewSigma, RemovalCriterion
from ssvi.layers import BayesLayer, bayes_layers, rho_from_sigma, sigma_from_rho
from ssvi.schedule import CosineDropSchedule

# Sigma of a weight entering the subspace under the ``eps`` rule.
NEW_SIGMA_EPS = 1e-6


class SparseSubspace:
    """Masks and drop/grow updates for the Bayesian layers of ``model``.

    Args:
        model: a model whose Linear/Conv1d/Conv2d layers are :class:`~ssvi.layers.BayesLayer`.
        density: global fraction of active weights in (0, 1]; 1.0 is dense VI.
        distribution: ``uniform`` (first layer dense) or ``erk``.
        schedule: when to update and how much to drop; None freezes the initial mask.
        removal, addition: criteria names (see :mod:`ssvi.criteria`).
        new_sigma: ``mean`` (the mean sigma of the layer's weights that stay), ``mean_rho``
            (sigma of their mean rho, e.g. softplus(mean rho): what the SSVI reference code
            does) or ``eps`` (NEW_SIGMA_EPS).
        grow_accumulation: number of minibatches whose dense gradients are averaged for ``grad``.
        lam: lambda of the exp-moment removal criteria.
        seed: seeds the initial masks and the ``random`` addition scores.
    """

    def __init__(
        self,
        model: nn.Module,
        density: float,
        distribution: DensityDistribution | str = DensityDistribution.UNIFORM,
        schedule: CosineDropSchedule | None = None,
        removal: RemovalCriterion | str = RemovalCriterion.SNR_ABS,
        addition: AdditionCriterion | str = AdditionCriterion.GRAD,
        new_sigma: NewSigma | str = NewSigma.MEAN,
        grow_accumulation: int = 1,
        lam: float = 1.0,
        seed: int = 0,
    ) -> None:
        all_layers = bayes_layers(model)
        if not all_layers:
            raise ValueError("the model has no Bayesian layers; call convert_to_bayesian first")
        self.removal = RemovalCriterion.parse(removal, "removal criterion")
        self.addition = AdditionCriterion.parse(addition, "addition criterion")
        self.new_sigma = NewSigma.parse(new_sigma, "new-weight sigma rule")
        self.distribution = DensityDistribution.parse(distribution, "density distribution")
        if grow_accumulation < 1:
            raise ValueError(f"grow_accumulation must be >= 1, got {grow_accumulation}")
        self.density = float(density)
        self.schedule = schedule
        self.grow_accumulation = grow_accumulation
        self.lam = lam
        self.generator = torch.Generator().manual_seed(seed)
        shapes = [tuple(layer.weight_mu.shape) for layer in all_layers]
        self.densities = layer_densities(self.distribution, shapes, self.density)
        self.layers: list[BayesLayer] = []
        for layer, d in zip(all_layers, self.densities, strict=True):
            if d >= 1.0:
                layer.set_mask(None)
                continue
            n = layer.weight_mu.numel()
            n_active = max(1, round(d * n))
            mask = torch.zeros(n, dtype=torch.bool)
            mask[torch.randperm(n, generator=self.generator)[:n_active]] = True
            layer.set_mask(mask.view_as(layer.weight_mu))
            self.layers.append(layer)
        self.num_updates = 0

    @property
    def is_dense(self) -> bool:
        return not self.layers

    def active_counts(self) -> list[int]:
        return [layer.num_active for layer in self.layers]

    # --- training-loop hooks --------------------
    def before_step(self, step: int) -> None:
        """Call before the forward pass of the iteration that completes step ``step + 1``.

        Turns dense-gradient capture on for the ``grow_accumulation`` iterations that end at an
        update step (only the ``grad`` criterion needs it).
        """
        if self.schedule is None or self.addition != AdditionCriterion.GRAD or self.is_dense:
            return
        to_update = self.schedule.steps_to_next_update(step + 1)
        capture = to_update is not None and to_update < self.grow_accumulation
        for layer in self.layers:
            layer.capture_grad = capture

    def maybe_update(self, step: int, optimizer: torch.optim.Optimizer | None = None) -> bool:
        """After the backward pass that completes ``step``: update the subspace if it is due.

        Returns True when an update happened; the reference then skips that optimizer step.
        """
        if self.schedule is None or self.is_dense or not self.schedule.is_update_step(step):
            return False
        self.update(self.schedule.drop_fraction(step), optimizer)
        return True

    # --- the update itself --------------------
    @torch.no_grad()
    def update(self, drop_fraction: float, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Exchange floor(drop_fraction x n_active) weights per sparse layer.

        Removes the active weights with the lowest removal score and adds as many inactive ones
        (inactive before this update) with the highest addition score; new weights get mu = 0 and
        sigma by the ``new_sigma`` rule; optimizer state of every inactive entry is zeroed.
        """
        for layer in self.layers:
            self._update_layer(layer, drop_fraction)
            layer.capture_grad = False
            layer.dense_grad, layer.dense_grad_count = None, 0
            if optimizer is not None:
                zero_inactive_state(optimizer, layer)
        self.num_updates += 1

    def _update_layer(self, layer: BayesLayer, drop_fraction: float) -> None:
        assert layer.mask is not None
        n_active = int(layer.mask.sum())
        k = min(math.floor(drop_fraction * n_active), layer.mask.numel() - n_active)
        if k <= 0:
            return
        # Flat tensors in logical order: views that write through (copies, written back at the
        # end, when a tensor is not contiguous, e.g. channels_last weights and their masks).
        mask, mu, rho = (_flat(t) for t in (layer.mask, layer.weight_mu, layer.weight_rho))
        active = mask.nonzero().squeeze(1)  # score only the active weights (density x the work)
        sigma = sigma_from_rho(rho[active], layer.sigma_param)
        keep = removal_score(self.removal, mu[active], sigma, self.lam).float()
        drop_pos = torch.topk(keep, k, largest=False).indices  # positions within `active`
        drop_idx = active[drop_pos]
        grad = None
        if layer.dense_grad is not None:
            grad = layer.dense_grad.reshape(-1) / max(layer.dense_grad_count, 1)
        grow = addition_score(self.addition, grad, mask.shape, self.generator).to(mu.device)
        grow = grow.float().masked_fill(mask, -math.inf)  # only weights inactive before
        grow_idx = torch.topk(grow, k, largest=True).indices

        stays = torch.ones_like(sigma, dtype=torch.bool).index_fill_(0, drop_pos, False)
        if self.new_sigma == NewSigma.MEAN:  # mean sigma of the weights that stay
            new_sigma = sigma[stays].mean()
        elif self.new_sigma == NewSigma.MEAN_RHO:  # sigma of their mean rho (reference code)
            new_sigma = sigma_from_rho(rho[active][stays].mean(), layer.sigma_param)
        else:
            new_sigma = torch.tensor(NEW_SIGMA_EPS, device=mu.device, dtype=mu.dtype)
        mu[drop_idx] = 0.0
        mu[grow_idx] = 0.0
        rho[grow_idx] = rho_from_sigma(new_sigma.reshape(1), layer.sigma_param).to(rho.dtype)
        mask[drop_idx] = False
        mask[grow_idx] = True
        for flat, t in ((mask, layer.mask), (mu, layer.weight_mu), (rho, layer.weight_rho)):
            if flat.data_ptr() != t.data_ptr():
                t.copy_(flat.view(t.shape))

    # --- persistence (masks live in the model's state_dict as buffers) --------------------
    def state_dict(self) -> dict[str, object]:
        # dense gradients being accumulated (grow_accumulation > 1) may span a checkpoint
        grads = [(layer.dense_grad, layer.dense_grad_count) for layer in self.layers]
        return {
            "generator": self.generator.get_state(),
            "num_updates": self.num_updates,
            "grads": grads,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        gen_state = state["generator"]
        assert isinstance(gen_state, Tensor)
        self.generator.set_state(gen_state)
        self.num_updates = int(state["num_updates"])  # type: ignore[call-overload]
        grads: list[tuple[Tensor | None, int]] = state.get("grads") or [(None, 0)] * len(
            self.layers
        )  # type: ignore[assignment]
        for layer, (grad, count) in zip(self.layers, grads, strict=True):
            layer.dense_grad = None if grad is None else grad.to(layer.weight_mu.device)
            layer.dense_grad_count = int(count)


def _flat(t: Tensor) -> Tensor:
    """``t`` flattened in logical order: a view when ``t`` is contiguous, else a copy."""
    return t.detach().view(-1) if t.is_contiguous() else t.detach().reshape(-1).clone()


@torch.no_grad()
def zero_inactive_state(optimizer: torch.optim.Optimizer, layer: BayesLayer) -> None:
    """Zero every per-entry optimizer state tensor (momentum, Adam moments) of inactive weights."""
    if layer.mask is None:
        return
    for p in (layer.weight_mu, layer.weight_rho):
        for value in optimizer.state.get(p, {}).values():
            if isinstance(value, Tensor) and value.shape == p.shape:
                value.mul_(layer.mask)
