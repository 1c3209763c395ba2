"""String enums for every named choice, so configs and search spaces hold plain strings."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound="StrEnum")


class StrEnum(str, Enum):
    """A ``str`` Enum whose ``parse`` gives a clear error listing the allowed values."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def parse(cls: type[E], value: object, what: str | None = None) -> E:
        """Return the member named ``value`` or raise ``ValueError`` naming the allowed values."""
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in cls)
            name = what or cls.__name__
            raise ValueError(f"unknown {name} {value!r}; allowed: {allowed}") from None


class SigmaParam(StrEnum):
    """How sigma is derived from the unconstrained parameter rho."""

    SOFTPLUS = "softplus"
    EXP = "exp"


class ForwardMode(StrEnum):
    """How a Bayesian layer computes its output."""

    LRT = "lrt"  # local reparameterization: sample pre-activations
    SAMPLE = "sample"  # one weight sample per forward pass
    MEAN = "mean"  # deterministic, mean weights


class MuInit(StrEnum):
    """Initialisation of the posterior means."""

    NORMAL = "normal"  # N(0, init_mu_std^2), as the reference code
    KAIMING = "kaiming"  # N(0, 2 / active fan-in): fan-in scaled, using the *active* fan-in
    COPY = "copy"  # keep the converted layer's own weights (torch's default init, or pretrained)


class RemovalCriterion(StrEnum):
    MEAN = "mean"
    SNR = "snr"
    E_ABS = "e_abs"
    SNR_ABS = "snr_abs"
    E_EXP_ABS = "e_exp_abs"
    SNR_EXP_ABS = "snr_exp_abs"


class AdditionCriterion(StrEnum):
    GRAD = "grad"
    RANDOM = "random"


class DensityDistribution(StrEnum):
    UNIFORM = "uniform"
    ERK = "erk"


class NewSigma(StrEnum):
    """Initial sigma of weights that enter the subspace."""

    MEAN = "mean"  # the layer's mean active sigma
    MEAN_RHO = "mean_rho"  # sigma of the mean active rho: the SSVI reference code's rule
    EPS = "eps"  # a small constant (NEW_SIGMA_EPS)
