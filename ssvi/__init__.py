"""ssvi: Sparse Subspace Variational Inference (Li et al., ICLR 2024) and dense mean-field VI."""

from ssvi.criteria import addition_score, removal_score
from ssvi.density import erk_densities, layer_densities, uniform_densities
from ssvi.enums import (
    AdditionCriterion,
    DensityDistribution,
    ForwardMode,
    MuInit,
    NewSigma,
    RemovalCriterion,
    SigmaParam,
)
from ssvi.layers import (
    BayesConv2d,
    BayesLayer,
    BayesLinear,
    bayes_layers,
    convert_to_bayesian,
    forward_mode,
    init_posterior_,
    kl_divergence,
    set_forward_mode,
)
from ssvi.schedule import CosineDropSchedule
from ssvi.subspace import SparseSubspace, zero_inactive_state

__all__ = [
    "AdditionCriterion",
    "BayesConv2d",
    "BayesLayer",
    "BayesLinear",
    "CosineDropSchedule",
    "DensityDistribution",
    "ForwardMode",
    "MuInit",
    "NewSigma",
    "RemovalCriterion",
    "SigmaParam",
    "SparseSubspace",
    "addition_score",
    "bayes_layers",
    "convert_to_bayesian",
    "erk_densities",
    "forward_mode",
    "init_posterior_",
    "kl_divergence",
    "layer_densities",
    "removal_score",
    "set_forward_mode",
    "uniform_densities",
    "zero_inactive_state",
]
