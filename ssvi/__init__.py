"""ssvi: Sparse Subspace Variational Inference (Li et al., ICLR 2024) and dense mean-field VI."""

from ssvi import metrics
from ssvi.config import ConfigError, RunConfig, load_config, make_config
from ssvi.criteria import addition_score, removal_score
from ssvi.data import DATASETS, DatasetSplits, load_dataset
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
    BayesConv1d,
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
from ssvi.models import MODELS, create_model
from ssvi.schedule import CosineDropSchedule
from ssvi.subspace import SparseSubspace, zero_inactive_state
from ssvi.train import RunResult, Trainer, train

__all__ = [
    "DATASETS",
    "MODELS",
    "ConfigError",
    "DatasetSplits",
    "RunConfig",
    "RunResult",
    "Trainer",
    "create_model",
    "load_config",
    "load_dataset",
    "make_config",
    "metrics",
    "train",
    "AdditionCriterion",
    "BayesConv1d",
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
