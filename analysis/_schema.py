"""What analysis knows about the results table (docs/results-table.md) and its metrics."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Hyperparameters a study may vary, in the order figures and tables list them.
HYPERPARAMETERS: tuple[str, ...] = (
    "kl_weight",
    "init_sigma",
    "prior_std",
    "lr",
    "update_interval",
    "alpha",
    "removal",
    "addition",
)
LOG_SCALED = frozenset({"kl_weight", "init_sigma", "prior_std", "lr", "update_interval"})
CATEGORICAL = frozenset({"removal", "addition"})
INTEGER = frozenset({"update_interval"})
# Which hyperparameters mean nothing to dense VI is decided by ssvi (ssvi.config.SUBSPACE_FIELDS)
# and written into every row by the study (column ``ssvi_only``). Tables written before that
# column existed meant this set; tests check that it still equals ssvi's definition.
SSVI_ONLY_COLUMN = "ssvi_only"
LEGACY_SSVI_ONLY = frozenset({"removal", "addition", "update_interval", "alpha", "density"})

DESIGNS = ("grid", "oat", "random", "random_ssvi", "edge", "tune")
# both methods run the same configurations and seeds; the edge design does too, but its values
# are chosen adaptively to find where a method fails: it feeds the working ranges only
PAIRED_DESIGNS = ("grid", "oat", "random")
METHODS = ("ssvi", "dense_vi")
STATUSES = ("completed", "diverged", "stopped_early", "error")
DENSE = "dense_vi"
ARM = "arm"  # column added by prepare_results: "dense_vi" or "ssvi@<density>"

STRING_COLUMNS = (
    "study",
    "design",
    "dataset",
    "model",
    "trial_id",
    "method",
    "config_id",
    "oat_param",
    "removal",
    "addition",
    "status",
    "node",
    "git_rev",
    SSVI_ONLY_COLUMN,
)

# Columns that hold numbers (everything else in the contract is a string or, is_default, bool).
NUMERIC_COLUMNS: tuple[str, ...] = (
    "density",
    "kl_weight",
    "init_sigma",
    "update_interval",
    "alpha",
    "prior_std",
    "lr",
    "seed",
    "epochs_completed",
    "val_accuracy",
    "val_nll",
    "val_ece",
    "val_brier",
    "test_accuracy",
    "test_nll",
    "test_ece",
    "test_brier",
    "test_ood_auroc",
    "test_ood_aupr",
    "test_accuracy_mean_weights",
    "train_flops",
    "inference_flops",
    "active_params",
    "model_bytes",
    "wall_time_s",
    "num_classes",
)


@dataclass(frozen=True)
class Metric:
    """A metric column of the results table and how to read it.

    Attributes:
        key: short name used in file names and APIs (``accuracy``).
        column: the results-table column (``test_accuracy``).
        label: name for people (``test accuracy``).
        higher_is_better: direction of "better".
        tolerance: default tolerance of the robust fraction, in column units.
        scale: multiplier for display (accuracy is shown in percent).
        unit: display unit after scaling.
        upper: largest possible value (the smallest is 0), for clipping intervals.
        chance_scored: a diverged run has a chance-level value (1/K, log K, ...) when diverged
            runs are scored instead of excluded; ECE has none (a uniform predictor is
            perfectly calibrated, which would reward divergence).
    """

    key: str
    column: str
    label: str
    higher_is_better: bool
    tolerance: float
    scale: float = 1.0
    unit: str = ""
    upper: float | None = None
    chance_scored: bool = True

    @property
    def title(self) -> str:
        """The label with a capital first letter (``Test accuracy``, ``OOD AUROC``)."""
        return self.label[:1].upper() + self.label[1:]

    @property
    def diverged_note(self) -> str:
        """How diverged runs enter this metric, for captions."""
        return "diverged runs excluded, counted separately"

    def axis_label(self) -> str:
        """Axis label with unit and direction, e.g. ``test accuracy (%, higher is better)``."""
        better = "higher is better" if self.higher_is_better else "lower is better"
        return f"{self.label} ({self.unit + ', ' if self.unit else ''}{better})"

    def fmt(self, value: float, signed: bool = False) -> str:
        """Format a value (or a difference, ``signed=True``) in display units."""
        if value != value:  # NaN
            return "n/a"
        digits = 1 if self.scale == 100 else 3
        return f"{value * self.scale:{'+' if signed else ''}.{digits}f}"


METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("accuracy", "test_accuracy", "test accuracy", True, 0.01, 100.0, "%", 1.0),
        Metric("nll", "test_nll", "test NLL", False, 0.02, 1.0, "nats"),
        Metric("ece", "test_ece", "test ECE", False, 0.01, upper=1.0, chance_scored=False),
        Metric("ood_auroc", "test_ood_auroc", "OOD AUROC", True, 0.01, upper=1.0),
        Metric("brier", "test_brier", "test Brier score", False, 0.01, upper=2.0),
    )
}
DEFAULT_METRICS = ("accuracy", "nll", "ece", "ood_auroc")
REQUIRED_COLUMNS: tuple[str, ...] = (
    (
        "design",
        "dataset",
        "method",
        "config_id",
        "oat_param",
        "is_default",
        "density",
        "seed",
        "status",
    )
    + HYPERPARAMETERS
    + tuple(METRICS[k].column for k in DEFAULT_METRICS)
)


def ssvi_only(df: pd.DataFrame) -> frozenset[str]:
    """The hyperparameters that do nothing to dense VI, as the table's ``ssvi_only`` column says
    (comma-separated names); ``LEGACY_SSVI_ONLY`` for tables without the column."""
    if SSVI_ONLY_COLUMN in df.columns:
        names = {
            name.strip()
            for text in df[SSVI_ONLY_COLUMN].dropna().astype(str).unique()
            for name in text.split(",")
            if name.strip()
        }
        if names:
            return frozenset(names)
    return LEGACY_SSVI_ONLY


def shared_params(df: pd.DataFrame) -> list[str]:
    """Hyperparameters both methods have (``HYPERPARAMETERS`` order)."""
    only = ssvi_only(df)
    return [p for p in HYPERPARAMETERS if p not in only]


def resolve_metric(metric: str | Metric) -> Metric:
    """Return the ``Metric`` named by a key (``accuracy``) or a column (``test_accuracy``)."""
    if isinstance(metric, Metric):
        return metric
    for m in METRICS.values():
        if metric in (m.key, m.column):
            return m
    allowed = ", ".join(METRICS)
    raise ValueError(f"unknown metric {metric!r}; allowed: {allowed} (or their test_* columns)")


def arm_name(method: str, density: float) -> str:
    """The arm a row belongs to: ``dense_vi``, or ``ssvi@<density>`` (one arm per density)."""
    return DENSE if method == DENSE else f"ssvi@{density:g}"


def arm_label(arm: str) -> str:
    """Name of an arm for people: ``dense VI`` or ``SSVI (density 0.1)``."""
    if arm == DENSE:
        return "dense VI"
    return f"SSVI (density {arm.split('@', 1)[1]})" if "@" in arm else arm


def arm_density(arm: str) -> float:
    """Density of an arm (1.0 for dense VI)."""
    return 1.0 if arm == DENSE else float(arm.split("@", 1)[1])


def sort_arms(arms: list[str] | set[str] | pd.Series) -> list[str]:
    """Dense VI first, then SSVI arms from the densest to the sparsest."""
    names = set(arms.unique()) if isinstance(arms, pd.Series) else set(arms)
    return sorted(names, key=lambda a: (a != DENSE, -arm_density(a)))
